"""The WebSocket views: one module per kind of socket (room, lobby), the guard every socket
shares (base), and what they need on the way in (frames, guards, socketauth, db). As thin as
HTTP views: they authorise, parse, call a write or a read, and forward what broadcast.py rendered."""
