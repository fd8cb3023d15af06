"""Links the demo prints, on the port the demo really serves (``PORT``, as scripts/demo.sh sets it)."""

import os


def demo_url(path: str = "/") -> str:
    """``http://127.0.0.1:<PORT><path>``."""
    return f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}{path}"
