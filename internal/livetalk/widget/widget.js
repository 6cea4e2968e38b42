/* dakenh LiveTalk widget: one script tag on a business's site.
 *
 *   <script src="https://crm.example.com/livetalk/widget.js" data-key="WIDGET_KEY" async></script>
 *
 * It talks only to the visitor API of the server it was loaded from
 * (POST /livetalk/graphql and its WebSocket, graphql-transport-ws), keeps
 * the visitor's token in localStorage so a reload resumes the chat, and
 * draws itself in a shadow root so the page's styles do not reach it.
 * No dependencies: it must load on any page.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.getAttribute("data-key")) {
    return;
  }
  var key = script.getAttribute("data-key");
  var base = new URL(script.src, location.href);
  var endpoint = base.origin + "/livetalk/graphql";
  var wsEndpoint = endpoint.replace(/^http/, "ws");
  var store = "dakenh.livetalk." + key;

  function saved() {
    try {
      return JSON.parse(localStorage.getItem(store) || "{}");
    } catch (e) {
      return {};
    }
  }
  function save(s) {
    try {
      localStorage.setItem(store, JSON.stringify(s));
    } catch (e) {
      /* private mode: the chat lasts as long as the page */
    }
  }
  var state = saved();

  function gql(query, variables) {
    var headers = { "Content-Type": "application/json" };
    if (state.token) {
      headers.Authorization = "Visitor " + state.token;
    }
    return fetch(endpoint, {
      method: "POST",
      headers: headers,
      body: JSON.stringify({ query: query, variables: variables || {} }),
    })
      .then(function (r) {
        return r.json();
      })
      .then(function (body) {
        if (body.errors && body.errors.length) {
          var err = new Error(body.errors[0].message);
          err.extensions = body.errors[0].extensions || {};
          throw err;
        }
        return body.data;
      });
  }

  // ---- drawing -----------------------------------------------------------

  var host = document.createElement("div");
  host.setAttribute("data-dakenh-livetalk", "");
  var root = host.attachShadow({ mode: "open" });

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") {
        e.textContent = attrs[k];
      } else if (k.indexOf("on") === 0) {
        e.addEventListener(k.slice(2), attrs[k]);
      } else {
        e.setAttribute(k, attrs[k]);
      }
    });
    (children || []).forEach(function (c) {
      e.appendChild(c);
    });
    return e;
  }

  var look;
  var ui = {};
  // MESSAGE is what the widget shows of a message.
  var MESSAGE = "id author authorName text attachments{type url name} createdAt";

  // media makes a server path (uploaded images) absolute.
  function media(u) {
    return u && u.charAt(0) === "/" ? base.origin + u : u;
  }

  function css(l) {
    var st = l.settings;
    var side = st.position === "BOTTOM_LEFT" ? "left" : "right";
    var x = st.offsetX + "px";
    var y = st.offsetY;
    var above = y + 56 + "px";
    return (
      ":host{all:initial}" +
      "*{box-sizing:border-box;font-family:system-ui,sans-serif;font-size:14px}" +
      ".start{position:fixed;bottom:" + y + "px;" + side + ":" + x + ";z-index:2147483000;border:0;border-radius:24px;padding:12px 18px;cursor:pointer;" +
      "background:" + st.buttonStyle.backgroundColor + ";color:" + st.buttonStyle.iconColor + "}" +
      ".start img{display:block;max-width:64px;max-height:64px}" +
      ".popup{position:fixed;bottom:" + above + ";" + side + ":" + x + ";z-index:2147483000;max-width:280px;background:#fff;border-radius:8px;" +
      "box-shadow:0 2px 12px rgba(0,0,0,.2);padding:12px}" +
      ".popup h4{margin:0 0 6px}.popup img{max-width:100%}.popup .avatar{width:32px;height:32px;border-radius:50%;float:left;margin-right:8px}" +
      ".window{position:fixed;bottom:" + above + ";" + side + ":" + x + ";z-index:2147483000;display:flex;flex-direction:column;background:#fff;" +
      "border-radius:8px;box-shadow:0 2px 16px rgba(0,0,0,.25);overflow:hidden;width:" + st.width + "px;height:" + st.height + "px;max-width:calc(100vw - 16px);max-height:calc(100vh - 80px)}" +
      ".head{background:" + l.headerColor + ";color:" + l.textColor + ";padding:10px 12px}" +
      ".head b{display:block}" +
      ".body{flex:1;overflow-y:auto;padding:10px}" +
      ".msg{margin:4px 0;padding:6px 10px;border-radius:12px;max-width:80%;white-space:pre-wrap;word-wrap:break-word}" +
      ".in{background:#eee}.out{background:" + l.headerColor + ";color:" + l.textColor + ";margin-left:auto}" +
      ".sys{color:#777;font-size:12px;text-align:center}.who{color:#777;font-size:11px;margin-top:6px}" +
      "form{display:flex;flex-direction:column;gap:6px;padding:10px}" +
      "input,select,textarea{padding:6px;border:1px solid #ccc;border-radius:4px}" +
      ".send{display:flex;border-top:1px solid #eee}.send input{flex:1;border:0}" +
      ".error{color:#b00020;font-size:12px}" +
      ".foot{padding:4px 10px;font-size:12px;color:#777;border-top:1px solid #eee}.foot a{color:inherit}" +
      ".links{display:flex;gap:8px;flex-wrap:wrap}" +
      ".call-bar{display:flex;gap:6px;align-items:center;padding:4px 10px;font-size:12px}.call-bar .remote{max-width:100%}" +
      "[hidden]{display:none!important}"
    );
  }

  function addMessage(m) {
    if (!ui.body || !m || (m.id && ui.seen[m.id])) {
      return;
    }
    if (m.id) {
      ui.seen[m.id] = true;
    }
    var cls = m.author === "VISITOR" ? "out" : m.author === "NOTICE" ? "sys" : "in";
    var text = m.text || "";
    (m.attachments || []).forEach(function (a) {
      text += (text ? "\n" : "") + (a.name || a.url);
    });
    // When the agents represent the window, each reply says who wrote it;
    // otherwise the department speaks for them all.
    if (m.author === "AGENT" && m.authorName && look.settings.representative === "AGENTS") {
      ui.body.appendChild(el("div", { class: "who", text: m.authorName }));
    }
    ui.body.appendChild(el("div", { class: "msg " + cls, "data-author": m.author || "", text: text }));
    ui.body.scrollTop = ui.body.scrollHeight;
  }

  function showError(where, err) {
    where.textContent = err.message;
  }

  function fieldInput(name, type, required) {
    var label = { NAME: "Họ tên", PHONE: "Số điện thoại", EMAIL: "Email" }[name];
    return el("input", {
      name: name.toLowerCase(),
      type: type,
      placeholder: label + (required ? " *" : ""),
      "aria-label": label,
    });
  }

  function startForm() {
    var required = look.requiredFields || [];
    var shown = ["NAME", "PHONE", "EMAIL"].filter(function (f) {
      return look.settings.visibleFields.indexOf(f) >= 0 || required.indexOf(f) >= 0;
    });
    var error = el("div", { class: "error", role: "alert" });
    var inputs = [];
    shown.forEach(function (f) {
      var input = fieldInput(f, f === "EMAIL" ? "email" : f === "PHONE" ? "tel" : "text", required.indexOf(f) >= 0);
      if (required.indexOf(f) >= 0) {
        input.required = true;
      }
      inputs.push(input);
    });
    var choice = null;
    // The widget offers what the channel's settings let visitors choose
    // (startBy): a department or an agent.
    if (look.settings.startBy === "AGENT" && look.agents.length) {
      choice = el("select", { name: "agentId", "aria-label": "Nhân viên" },
        look.agents.map(function (a) {
          return el("option", { value: a.id, text: a.name + (a.online ? "" : " (offline)") });
        }));
    } else if (look.settings.startBy !== "AGENT" && look.departments.length) {
      choice = el("select", { name: "departmentId", "aria-label": "Bộ phận" },
        look.departments.map(function (d) {
          return el("option", { value: d.id, text: d.name });
        }));
    }
    var button = el("button", { type: "submit", text: "Bắt đầu trò chuyện" });
    var form = el("form", { class: "start-form" }, inputs.concat(choice ? [choice] : []).concat([button, error]));
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var input = { key: key, pageUrl: location.href };
      inputs.forEach(function (i) {
        if (i.value) {
          input[i.name] = i.value;
        }
      });
      if (choice && choice.value) {
        input[choice.name] = choice.value;
      }
      button.disabled = true;
      gql("mutation($input: StartChatInput!){startChat(input:$input){token conversationId cursor}}", { input: input })
        .then(function (d) {
          state = { token: d.startChat.token, conversationId: d.startChat.conversationId, cursor: d.startChat.cursor };
          save(state);
          chatView();
        })
        .catch(function (err) {
          button.disabled = false;
          showError(error, err);
        });
    });
    return form;
  }

  function chatView() {
    ui.content.innerHTML = "";
    ui.seen = {};
    ui.body = el("div", { class: "body", role: "log", "aria-live": "polite" });
    var text = el("input", { name: "text", placeholder: "Nhập tin nhắn…", "aria-label": "Tin nhắn", autocomplete: "off" });
    var error = el("div", { class: "error", role: "alert" });
    var form = el("form", { class: "send" }, [text, el("button", { type: "submit", text: "Gửi" })]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var t = text.value.trim();
      if (!t) {
        return;
      }
      text.value = "";
      gql("mutation($text: String!){sendVisitorMessage(text:$text){" + MESSAGE + "}}", { text: t })
        .then(function (d) {
          error.textContent = "";
          addMessage(d.sendVisitorMessage);
        })
        .catch(function (err) {
          text.value = t;
          showError(error, err);
        });
    });
    ui.content.appendChild(callBar());
    ui.content.appendChild(ui.body);
    ui.content.appendChild(error);
    ui.content.appendChild(form);
    gql("query{messages(last:50){" + MESSAGE + "}}")
      .then(function (d) {
        d.messages.forEach(addMessage);
        follow();
      })
      .catch(function (err) {
        if (err.extensions && (err.extensions.code === "UNAUTHENTICATED" || err.extensions.code === "NOT_FOUND")) {
          // The token expired or the key was rotated: start again.
          state = {};
          save(state);
          ui.content.innerHTML = "";
          ui.content.appendChild(startForm());
          return;
        }
        showError(error, err);
      });
  }

  // ---- the visitor's stream (graphql-transport-ws) -------------------------

  var socket;
  var retry = 0;

  function follow() {
    if (socket || !state.token) {
      return;
    }
    socket = new WebSocket(wsEndpoint, "graphql-transport-ws");
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: "Visitor " + state.token } }));
    };
    socket.onmessage = function (ev) {
      var m = JSON.parse(ev.data);
      if (m.type === "connection_ack") {
        retry = 0;
        socket.send(JSON.stringify({
          id: "1",
          type: "subscribe",
          payload: {
            query: "subscription($after: Cursor){visitorEvents(after:$after){cursor type message{" + MESSAGE + "} agent{name} " +
              "call{" + CALL + "} signal{kind data}}}",
            variables: { after: state.cursor || null },
          },
        }));
      } else if (m.type === "next" && m.payload && m.payload.data) {
        var e = m.payload.data.visitorEvents;
        state.cursor = e.cursor;
        save(state);
        onEvent(e);
      } else if (m.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      }
    };
    socket.onclose = function () {
      socket = null;
      retry = Math.min(retry + 1, 6);
      setTimeout(follow, 500 * Math.pow(2, retry));
    };
  }

  function onEvent(e) {
    if (e.message) {
      addMessage(e.message);
    } else if (e.type === "AGENT_JOINED" && e.agent && look.settings.representative === "AGENTS") {
      addMessage({ author: "NOTICE", text: e.agent.name + " đã tham gia cuộc trò chuyện" });
    } else if (e.call) {
      onCall(e);
    }
  }

  // ---- audio and video calls (WebRTC; the server relays the signals) -----

  var CALL = "id kind status result iceServers{urls username credential}";
  var call = null; // {id, kind, pc, stream}

  // callBar holds the call buttons the widget offers (callsAvailable and
  // the functions enabled) and the state of a call.
  function callBar() {
    ui.calls = el("div", { class: "calls" });
    ui.callState = el("span", { class: "call-state" });
    ui.hangUp = el("button", { type: "button", class: "hang-up", hidden: "", text: "Kết thúc", onclick: hangUp });
    ui.remote = el("video", { class: "remote", autoplay: "", playsinline: "", hidden: "" });
    [["AUDIO", "Gọi thoại"], ["VIDEO", "Gọi video"]].forEach(function (k) {
      ui.calls.appendChild(el("button", { type: "button", class: "call-" + k[0].toLowerCase(), "data-kind": k[0], text: k[1], hidden: "",
        onclick: function () { startCall(k[0]); } }));
    });
    showCallButtons();
    return el("div", { class: "call-bar" }, [ui.calls, ui.callState, ui.hangUp, ui.remote]);
  }

  function showCallButtons() {
    var only = look.settings.buttonDisplay && look.settings.buttonDisplay.mode;
    [].forEach.call(ui.calls.children, function (b) {
      var kind = b.getAttribute("data-kind");
      b.hidden = !!call || !look.callsAvailable || look.functions.indexOf(kind) < 0 ||
        only === "ONLY_CHAT" || (only === "ONLY_AUDIO" && kind !== "AUDIO") || (only === "ONLY_VIDEO" && kind !== "VIDEO");
    });
  }

  function callStatus(text) {
    ui.callState.textContent = text;
    ui.hangUp.hidden = !call;
    showCallButtons();
  }

  function startCall(kind) {
    gql("mutation($k: CallKind!){startCall(kind:$k){" + CALL + "}}", { k: kind })
      .then(function (d) {
        call = { id: d.startCall.id, kind: kind, iceServers: d.startCall.iceServers };
        callStatus("Đang gọi…");
        // The hold music the settings chose plays while the agents are rung.
        var music = look.settings.holdMusic && look.settings.holdMusic.url;
        if (music) {
          call.hold = new Audio(media(music));
          call.hold.loop = true;
          call.hold.play().catch(function () {});
        }
      })
      .catch(function (err) {
        callStatus(err.message);
      });
  }

  function signal(kind, data) {
    return gql("mutation($c: ID!, $k: CallSignalKind!, $d: String){sendCallSignal(callId:$c, kind:$k, data:$d){kind}}",
      { c: call.id, k: kind, d: data });
  }

  function hangUp() {
    if (call) {
      gql("mutation($c: ID!){hangUpCall(callId:$c){id}}", { c: call.id });
    }
  }

  // answered connects the media once an agent answered: the visitor
  // offers, the agent answers, both trade ICE candidates.
  function answered() {
    var c = call;
    var servers = (c.iceServers || []).map(function (s) {
      return { urls: s.urls, username: s.username || undefined, credential: s.credential || undefined };
    });
    c.pc = new RTCPeerConnection({ iceServers: servers });
    c.pc.onicecandidate = function (ev) {
      if (ev.candidate && call === c) {
        signal("ICE_CANDIDATE", JSON.stringify(ev.candidate));
      }
    };
    c.pc.ontrack = function (ev) {
      ui.remote.srcObject = ev.streams[0];
      ui.remote.hidden = c.kind !== "VIDEO";
    };
    navigator.mediaDevices.getUserMedia({ audio: true, video: c.kind === "VIDEO" })
      .then(function (stream) {
        c.stream = stream;
        stream.getTracks().forEach(function (t) {
          c.pc.addTrack(t, stream);
        });
        return c.pc.createOffer();
      })
      .then(function (offer) {
        return c.pc.setLocalDescription(offer);
      })
      .then(function () {
        return signal("OFFER", c.pc.localDescription.sdp);
      })
      .catch(function (err) {
        callStatus(err.message);
        hangUp();
      });
  }

  function ended() {
    if (call && call.pc) {
      call.pc.close();
    }
    if (call && call.stream) {
      call.stream.getTracks().forEach(function (t) {
        t.stop();
      });
    }
    call = null;
    ui.remote.hidden = true;
    callStatus("Cuộc gọi đã kết thúc");
    // The call may have used the month's last minutes.
    gql("query($key: String!){widget(key:$key){callsAvailable}}", { key: key }).then(function (d) {
      look.callsAvailable = d.widget.callsAvailable;
      showCallButtons();
    });
  }

  function onCall(e) {
    if (!call || e.call.id !== call.id) {
      return;
    }
    if (call.hold && e.type !== "CALL_RINGING") {
      call.hold.pause();
      call.hold = null;
    }
    if (e.type === "CALL_ANSWERED") {
      callStatus("Đã kết nối");
      answered();
    } else if (e.type === "CALL_ENDED") {
      ended();
    } else if (e.type === "CALL_SIGNAL" && e.signal && call.pc) {
      if (e.signal.kind === "ANSWER") {
        call.pc.setRemoteDescription({ type: "answer", sdp: e.signal.data });
      } else if (e.signal.kind === "ICE_CANDIDATE") {
        call.pc.addIceCandidate(JSON.parse(e.signal.data));
      }
    }
  }

  // footer is the signature ([[text]] links to its URL) and the other
  // links.
  function footer(st) {
    var f = el("div", { class: "foot" });
    var sig = st.signature;
    if (sig.text) {
      var line = el("div");
      var m = /\[\[([^\]]+)\]\]/.exec(sig.text);
      if (m && sig.linkUrl) {
        line.appendChild(document.createTextNode(sig.text.slice(0, m.index)));
        line.appendChild(el("a", { href: sig.linkUrl, target: "_blank", rel: "noopener", text: m[1] }));
        line.appendChild(document.createTextNode(sig.text.slice(m.index + m[0].length)));
      } else {
        line.textContent = sig.text.replace(/\[\[|\]\]/g, "");
      }
      f.appendChild(line);
    }
    if (st.links.length) {
      f.appendChild(el("div", { class: "links" }, st.links.map(function (l) {
        var a = { href: l.url, class: "link", "data-kind": l.kind, text: l.description || l.kind };
        if (l.target === "NEW_TAB") {
          a.target = "_blank";
          a.rel = "noopener";
        }
        return el("a", a);
      })));
    }
    f.hidden = !f.childNodes.length;
    return f;
  }

  // ---- start -------------------------------------------------------------

  function open() {
    ui.popup.hidden = true;
    ui.window.hidden = !ui.window.hidden;
  }

  function draw() {
    root.appendChild(el("style", { text: css(look) }));
    ui.content = el("div", { class: "content", style: "display:flex;flex-direction:column;flex:1;min-height:0" });
    ui.window = el("div", { class: "window", hidden: "", role: "dialog", "aria-label": look.title }, [
      el("div", { class: "head" }, [el("b", { text: look.title }), el("span", { text: look.description || "" })]),
      ui.content,
      footer(look.settings),
    ]);
    ui.popup = el("div", { class: "popup", hidden: "", onclick: open });
    var bs = look.settings.buttonStyle;
    ui.start = el("button", { class: "start", type: "button", "aria-label": look.settings.buttonText, onclick: open },
      bs.kind === "IMAGE" && bs.imageUrl ? [el("img", { src: media(bs.imageUrl), alt: look.settings.buttonText })] : []);
    if (!(bs.kind === "IMAGE" && bs.imageUrl)) {
      ui.start.textContent = look.settings.buttonText;
    }
    root.appendChild(ui.popup);
    root.appendChild(ui.window);
    root.appendChild(ui.start);
    if (state.token) {
      chatView();
    } else {
      ui.content.appendChild(startForm());
    }
    // The page's greeting, or else the settings' popup, after its delay
    // (0: none).
    var p = look.settings.popup;
    var g = look.greeting || (p.delaySeconds > 0 && (p.content || p.imageUrl) ?
      { title: p.title, contents: p.kind === "TEXT" ? [p.content] : [], imageUrl: p.kind === "IMAGE" ? p.imageUrl : null, delaySeconds: p.delaySeconds } : null);
    if (g && g.delaySeconds > 0 && !state.token) {
      setTimeout(function () {
        if (!ui.window.hidden) {
          return;
        }
        ui.popup.innerHTML = "";
        if (p.avatarUrl) {
          ui.popup.appendChild(el("img", { class: "avatar", src: media(p.avatarUrl), alt: p.name }));
        }
        ui.popup.appendChild(el("h4", { text: g.title }));
        (g.contents || []).forEach(function (c) {
          ui.popup.appendChild(el("p", { text: c }));
        });
        if (g.imageUrl) {
          ui.popup.appendChild(el("img", { src: media(g.imageUrl), alt: g.title }));
        }
        ui.popup.hidden = false;
      }, g.delaySeconds * 1000);
    }
    document.body.appendChild(host);
  }

  gql(
    "query($key: String!, $path: String){widget(key:$key, path:$path){title description headerColor textColor requiredFields functions " +
      "departments{id name online} agents{id name online} greeting{title contents delaySeconds} callsAvailable " +
      "settings{width height position offsetX offsetY buttonText visibleFields startBy representative " +
      "popup{kind content imageUrl avatarUrl title name delaySeconds} signature{text linkUrl} " +
      "buttonStyle{kind icon backgroundColor iconColor imageUrl} buttonDisplay{mode highlight} links{kind url description target} holdMusic{url}}}}",
    { key: key, path: location.pathname }
  )
    .then(function (d) {
      if (!d.widget) {
        return;
      }
      look = d.widget;
      if (document.body) {
        draw();
      } else {
        document.addEventListener("DOMContentLoaded", draw);
      }
    })
    .catch(function (err) {
      if (window.console) {
        console.warn("dakenh LiveTalk:", err.message);
      }
    });
})();
