// Madang's one script of its own, and all it does: mark the page as reconnecting when its
// socket closes, because no server can say so once the connection is gone. It never touches a
// message; every message is server-rendered HTML swapped in by the htmx ws extension, and the
// server's resume reply marks the page live again (rooms/_status.html).
(function () {
  function reconnecting() {
    var status = document.getElementById("connection");
    if (!status || status.dataset.state === "connecting") return;
    status.dataset.state = "connecting";
    status.removeAttribute("data-socket");
    status.textContent = status.dataset.reconnectingLabel || "";
  }
  document.addEventListener("htmx:wsClose", reconnecting);
  document.addEventListener("htmx:wsError", reconnecting);
})();
