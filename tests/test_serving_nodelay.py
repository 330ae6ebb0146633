"""TCP_NODELAY on connections accepted from a listener bound as uvicorn's --workers binds it."""

import asyncio
import asyncio.base_events
import socket

from fsdd_pipeline.serving import nodelay
from fsdd_pipeline.serving.nodelay import keep_tcp_nodelay


def _accepted_nodelay():
    """TCP_NODELAY of a connection asyncio accepts on a listener made with protocol 0 (as
    uvicorn's Config.bind_socket makes it for --workers N)."""
    listener = socket.socket(socket.AF_INET)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    assert listener.proto == 0

    async def accept_one():
        accepted = asyncio.get_running_loop().create_future()

        class Protocol(asyncio.Protocol):
            def connection_made(self, transport):
                sock = transport.get_extra_info("socket")
                accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Protocol, sock=listener)
        async with server:
            _, writer = await asyncio.open_connection(*listener.getsockname())
            value = await asyncio.wait_for(accepted, timeout=10)
            writer.close()
        return value

    return asyncio.run(accept_one())


def test_connections_on_a_protocol_0_listener_get_tcp_nodelay(monkeypatch):
    # asyncio's own rule for the test (a model loaded earlier in this process may have
    # repaired it already), and whatever was there before restored after it.
    monkeypatch.setattr(asyncio.base_events, "_set_nodelay", nodelay.ASYNCIO_SET_NODELAY)
    assert not _accepted_nodelay(), (
        "asyncio now sets TCP_NODELAY on sockets of protocol 0 itself: "
        "fsdd_pipeline.serving.nodelay is no longer needed"
    )
    keep_tcp_nodelay()
    keep_tcp_nodelay()  # idempotent
    assert _accepted_nodelay()
