"""Who hears whom (`ivr.adapters.cti.mixing`), for every combination of parties, modes,
hold and mute: a held caller is never heard and hears music, a muted agent is heard by
nobody, nobody hears a party that is not there, talkers hear each other, and a caller in a
flow hears only its prompts and is heard by nobody."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ivr.adapters.cti.mixing import ROLES, Mix, dtmf_targets, group, links, music, recorded

mixes = st.builds(
    Mix,
    present=st.frozensets(st.sampled_from(ROLES)).map(lambda roles: roles | {"caller"}),
    mode=st.sampled_from(["talk", "consult", "conference"]),
    held=st.booleans(),
    muted=st.booleans(),
    in_flow=st.booleans(),
)


@given(mixes)
def test_the_rules_hold_for_every_mix(mix: Mix) -> None:
    carried = links(mix)
    for speaker, listener in carried:
        assert speaker != listener and {speaker, listener} <= mix.present
        assert not (mix.muted and speaker == "agent")
        assert not (mix.held and "caller" in (speaker, listener))
    if mix.held and not mix.in_flow:
        assert music(mix)
    if mix.in_flow:
        assert not music(mix), "the flow's prompts play to the caller, not music"
        assert "caller" not in {party for link in carried for party in link}, "nobody hears the keys"
    assert ("agent" in recorded(mix)) == ("agent" in mix.present and not mix.muted)
    assert recorded(mix) <= mix.present
    talking = group(mix)
    for a in talking:
        for b in talking - {a}:
            assert (a, b) in carried or (mix.muted and a == "agent")
    assert "agent" not in dtmf_targets(mix)


def test_the_usual_mixes() -> None:
    assert links(Mix()) == {("caller", "agent"), ("agent", "caller")} and not music(Mix())
    consult = Mix(frozenset({"caller", "agent", "other"}), "consult")
    assert links(consult) == {("agent", "other"), ("other", "agent")} and music(consult)
    assert dtmf_targets(consult) == {"other"}
    assert len(links(consult.with_(mode="conference"))) == 6
    handed = Mix(frozenset({"caller", "other"}))
    assert links(handed) == {("caller", "other"), ("other", "caller")} and not music(handed)
    ringing = Mix(frozenset({"caller"}))
    assert links(ringing) == frozenset() and music(ringing)  # waiting for the number to answer
    assert recorded(Mix(muted=True)) == {"caller"}
    away = Mix(in_flow=True)
    assert links(away) == frozenset() and not music(away) and dtmf_targets(away) == frozenset()
