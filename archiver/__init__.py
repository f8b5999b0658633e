"""The records core: everything that turns a capture into verified, versioned, logged archive state."""
