"""Who hears whom (`ivr.adapters.cti.mixing`), for every combination of parties, modes,
hold and mute: a held caller is never heard and hears music, a muted agent is heard by
nobody, nobody hears a party that is not there, and talkers hear each other."""

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
)


@given(mixes)
def test_the_rules_hold_for_every_mix(mix: Mix) -> None:
    carried = links(mix)
    for speaker, listener in carried:
        assert speaker != listener and {speaker, listener} <= mix.present
        assert not (mix.muted and speaker == "agent")
        assert not (mix.held and "caller" in (speaker, listener))
    if mix.held:
        assert music(mix)
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
