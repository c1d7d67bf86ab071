// Madang's one script of its own. Everything on the page is server-rendered HTML swapped in by
// htmx; this does only what no server can do, and never builds HTML or touches a message:
//
// 1. Connection state: mark the page as reconnecting when its socket closes (once the connection
//    is gone no server can say so). The server's resume reply marks it live (rooms/_status.html).
//
// 2. The composer. Whatever is typed after Enter exists only in the browser, so no server swap can
//    keep it: an acknowledgement that replaced the text field (as it once did) wiped what was typed
//    while it travelled. So the field is emptied here, right after the ws-send, and the server's
//    answers never touch it; they replace the nonce, the error line and the sending line
//    (rooms/_sent.html, rooms/_refused.html), which say which send (by its nonce) was stored or
//    refused. Until then the form carries data-state="sending" and the sending line shows the
//    sent text (as textContent). A refused send's text goes back into the field (before anything
//    typed since). A send whose socket closed before its answer is sent again, with the same nonce
//    (so the server stores it once), as the next socket opens, after the resume frame; sends made
//    while closed are queued by the htmx ws extension and go out then too. Each send gets a nonce
//    of its own: the server's, suffixed ".1", ".2"… here until its next acknowledgement brings a
//    new one. Without JavaScript none of this runs: the form POSTs and the page redirects back.
//
//    After an edit (or a cancelled edit, deletion or reaction) the form's slot empties and the
//    focused field goes with it; focus then comes back to the composer, where it was before.
//
// 3. Changes to messages outside the page's window: their out-of-band parts also name #oob-sink
//    (rooms/_message_content.html), a target that is always there, so htmx has no "no target"
//    error to log; the swap into the sink is refused here.
(function () {
  "use strict";

  // --- 1. connection state ---------------------------------------------------------------------
  function reconnecting() {
    var status = document.getElementById("connection");
    if (!status || status.dataset.state === "connecting") return;
    status.dataset.state = "connecting";
    status.removeAttribute("data-socket");
    status.textContent = status.dataset.reconnectingLabel || "";
  }
  document.addEventListener("htmx:wsClose", reconnecting);
  document.addEventListener("htmx:wsError", reconnecting);

  // htmx's own backoff ("full-jitter") lets the wait grow to 64 s after six failed tries, so after
  // a deploy or a restart a chat page could sit "Reconnecting…" for a minute. Cap it at 8 s, and
  // keep half of it random so a server's thousands of pages do not all come back in one instant.
  if (window.htmx) {
    window.htmx.config.wsReconnectDelay = function (retries) {
      var ceiling = Math.min(1000 * Math.pow(2, retries), 8000);
      return ceiling / 2 + Math.random() * (ceiling / 2);
    };
  }

  // --- 2. the composer -------------------------------------------------------------------------
  var pending = []; // sends without an answer, oldest first: {nonce, text, body, sent}
  var sends = 0; // suffix for the next send's nonce

  function isComposer(elt) {
    return elt && elt.id === "composer";
  }

  function show() {
    var form = document.getElementById("composer");
    var line = document.getElementById("composer-sending");
    if (form) {
      if (pending.length) form.dataset.state = "sending";
      else form.removeAttribute("data-state");
    }
    if (!line) return;
    var text = line.querySelector(".composer-sending-text");
    if (text) text.textContent = pending.map(function (send) { return send.text; }).join(" · ");
    line.hidden = !pending.length;
  }

  // The send a server answer names: by nonce, or the oldest one sent when it could not say.
  function take(nonce) {
    for (var i = 0; i < pending.length; i++) {
      if (nonce ? pending[i].nonce === nonce : pending[i].sent) return pending.splice(i, 1)[0];
    }
    return null;
  }

  document.addEventListener("htmx:wsConfigSend", function (event) {
    if (!isComposer(event.target) || (event.detail.errors && event.detail.errors.length)) return;
    var params = event.detail.parameters;
    pending.push({ nonce: String(params.nonce || ""), text: String(params.message || ""), body: null, sent: false });
    var nonce = document.getElementById("composer-nonce");
    if (nonce) nonce.value = nonce.value.split(".")[0] + "." + ++sends;
    var field = document.getElementById("composer-text");
    if (field) {
      field.value = "";
      field.focus();
    }
    show();
  });

  document.addEventListener("htmx:wsAfterSend", function (event) {
    if (!isComposer(event.target)) return;
    var nonce;
    try {
      nonce = JSON.parse(event.detail.message).nonce;
    } catch (e) {
      return;
    }
    pending.forEach(function (send) {
      if (send.nonce === nonce) {
        send.body = event.detail.message;
        send.sent = true;
      }
    });
  });

  // Listeners on document run after the resume form's own (on #chat): the resume frame goes first.
  document.addEventListener("htmx:wsOpen", function (event) {
    var form = document.getElementById("composer");
    pending.forEach(function (send) {
      if (send.sent && send.body) event.detail.socketWrapper.send(send.body, form);
    });
  });

  document.addEventListener("htmx:wsAfterMessage", function () {
    var line = document.getElementById("composer-sending");
    if (!line) return;
    var sent = line.getAttribute("data-sent");
    var failed = line.getAttribute("data-failed");
    line.removeAttribute("data-sent");
    line.removeAttribute("data-failed");
    if (sent !== null) take(sent);
    if (failed !== null) {
      var send = take(failed);
      var field = document.getElementById("composer-text");
      if (send && field) field.value = field.value ? send.text + " " + field.value : send.text;
    }
    show();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var slot = event.detail.target;
    if (!slot || !slot.classList || !slot.classList.contains("message-editor") || slot.firstElementChild) return;
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return; // focus is somewhere on purpose
    var field = document.getElementById("composer-text");
    if (field) field.focus();
  });

  // --- 3. changes outside the page's window ----------------------------------------------------
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "oob-sink") event.detail.shouldSwap = false;
  });
})();
