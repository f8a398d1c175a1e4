// The ivr web chat widget: one file, no build step, no dependencies.
// Embed: <div id="ivr-chat"></div><script src="https://ivr.example/chat/chat.js"></script>
// (or IvrChat.mount(element, {url: "wss://ivr.example/chat/ws"})). The flow's prompts
// appear as text; a menu's keys as buttons (typed digits work too); a collect as a text
// box; a secret entry (a PIN) in a masked box whose value is sent once and never shown.
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script ? script.src.replace(/[^/]*$/, "") : location.href.replace(/[^/]*$/, "");

  var STYLE =
    ".ivr-chat{font:15px system-ui,sans-serif;border:1px solid #ccd;border-radius:8px;max-width:420px;" +
    "display:flex;flex-direction:column;height:480px}.ivr-log{flex:1;overflow-y:auto;padding:8px}" +
    ".ivr-log p{margin:4px 0;padding:6px 9px;border-radius:8px;max-width:85%;white-space:pre-wrap}" +
    ".ivr-say{background:#eef}.ivr-me{background:#dfd;margin-left:auto!important;text-align:right}" +
    ".ivr-note{color:#855;font-size:13px}.ivr-keys{padding:4px 8px}.ivr-keys button{margin:2px;min-width:2.4em}" +
    ".ivr-form{display:flex;border-top:1px solid #ccd}.ivr-form input{flex:1;padding:8px;border:0}";

  var GLOBAL = {
    zh: { agent: "人工服务", back: "返回", repeat: "重听" },
    en: { agent: "an agent", back: "back", repeat: "repeat" },
  };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function mount(root, options) {
    options = options || {};
    var url = options.url || base.replace(/^http/, "ws") + "ws" + (options.number ? "?number=" + encodeURIComponent(options.number) : "");
    if (!document.getElementById("ivr-chat-style")) {
      var style = el("style");
      style.id = "ivr-chat-style";
      style.textContent = STYLE;
      document.head.appendChild(style);
    }
    var box = el("div", "ivr-chat");
    var log = el("div", "ivr-log");
    log.setAttribute("aria-live", "polite");
    var keys = el("div", "ivr-keys");
    var form = el("form", "ivr-form");
    var input = el("input", "ivr-input");
    input.autocomplete = "off";
    input.setAttribute("aria-label", "reply");
    var send = el("button", "ivr-send", "➤");
    var end = el("button", "ivr-end", "✕");
    end.type = "button";
    end.title = "end the chat";
    form.append(input, send, end);
    box.append(log, keys, form);
    root.appendChild(box);

    var asked = null;
    var language = "zh"; // the prompts' language, for the global keys' names
    var withAgent = false; // an agent took the chat: the box sends free text to them
    var socket = new WebSocket(url);

    function note(cls, text) {
      var p = el("p", cls, text);
      log.appendChild(p);
      log.scrollTop = log.scrollHeight;
    }
    function post(message) {
      if (socket.readyState === 1) socket.send(JSON.stringify(message));
    }
    function secret() {
      return !!(asked && asked.secret);
    }
    function answer(text, fromBox) {
      if (!text) return;
      // a secret is shown as dots, never as itself, and leaves no copy in the page
      note("ivr-me", secret() ? "••••••" : text);
      if (fromBox && withAgent) post({ type: "text", text: text });
      else if (fromBox && asked && asked.kind === "collect") post({ type: "entry", text: text });
      else post({ type: "keys", keys: text });
    }
    function showAsked(message) {
      asked = message;
      keys.textContent = "";
      function button(key, label, cls) {
        var b = el("button", cls, label);
        b.type = "button";
        b.dataset.key = key;
        b.addEventListener("click", function () {
          answer(key, message.kind === "collect"); // in a collect, a key alone is an entry
        });
        keys.appendChild(b);
      }
      (message.keys || []).forEach(function (key) {
        button(key, key, "ivr-key");
      });
      (message.global_keys || []).forEach(function (g) {
        var words = (GLOBAL[language] || GLOBAL.en)[g.name] || g.name;
        button(g.key, g.key + " · " + words, "ivr-key ivr-global");
      });
      input.type = message.secret ? "password" : "text";
      input.inputMode = "numeric";
      input.maxLength = message.max_length ? message.max_length + 1 : 64;
      input.placeholder = message.secret ? "PIN" : message.kind === "collect" ? "…" : "";
      input.value = "";
      input.focus();
    }

    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.language) language = message.language;
      if (message.type === "say") note("ivr-say", message.text);
      else if (message.type === "ask") showAsked(message);
      else if (message.type === "notice" || message.type === "error") note("ivr-note", message.text);
      else if (message.type === "agent_text") note("ivr-say ivr-agent", message.text);
      else if (message.type === "agent") withAgentNow(message.state === "joined");
      else if (message.type === "end") finish(message.refused ? "busy: " + message.refused : "");
    };
    function withAgentNow(joined) {
      withAgent = joined;
      asked = null;
      keys.textContent = "";
      input.type = "text";
      input.inputMode = joined ? "text" : "numeric";
      input.maxLength = joined ? 1000 : 64;
      input.placeholder = "";
      note("ivr-note ivr-agent-" + (joined ? "joined" : "left"), joined ? "— 客服已接入 · an agent joined —" : "— 客服已离开 · the agent left —");
    }
    socket.onclose = function () {
      finish("");
    };
    var finished = false;
    function finish(why) {
      if (finished) return;
      finished = true;
      note("ivr-note ivr-ended", why || "— chat ended —");
      keys.textContent = "";
      input.disabled = send.disabled = end.disabled = true;
      box.dataset.ended = "true";
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      input.value = "";
      answer(text, true);
    });
    end.addEventListener("click", function () {
      post({ type: "end" });
      socket.close();
    });
    return box;
  }

  window.IvrChat = { mount: mount };
  var spot = document.getElementById("ivr-chat");
  if (spot && !spot.dataset.manual) mount(spot, { number: spot.dataset.number });
})();
