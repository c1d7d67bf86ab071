"""Madang's benchmark: a load generator that talks to the server the way the room page does."""
