"""Web chat: the same flows on text (docs/channels.md, "Web chat").

Place: an adapter over the runtime's ports. `leg` is the `ChatLeg` (a `CallLeg` whose
prompts are text messages and whose keys arrive as messages, with per-session limits);
`static/` is the widget: `chat.js` (embeddable: one script tag) and `index.html` (a page
around it). `ivr.adapters.hosting.chat` serves them at /chat/ and runs each session as a
call through the hosted server's admission.
"""

from ivr.adapters.chat.leg import ChatLeg, ChatLimits

__all__ = ["ChatLeg", "ChatLimits"]
