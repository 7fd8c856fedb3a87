"""The HTTP interface: a FastAPI app over the SDK (`create_app`), served by `moe serve`."""

from moe_system.server.app import create_app

__all__ = ["create_app"]
