"""The peers of bench/chat.py: bare WebSocket broadcasters, each speaking the benchmark's subset
of Veza's `/ws` protocol (`send` in, `ack` to the sender, `message` to every socket)."""
