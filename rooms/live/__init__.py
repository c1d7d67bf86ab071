"""Process-level machinery under the channel layer: the hubs that fan each room's events out to
this process's sockets, and the watch that notices when the layer lost something. Nothing here
renders or touches the database; consumers (rooms.sockets) sit above it."""
