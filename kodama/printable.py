"""Text from a pod (agent messages, logs, errors) made safe to print on a terminal.

A prompt-injected agent controls what it writes; control characters and escape sequences in it
could move the cursor, rewrite earlier lines, set the window title or the clipboard (OSC 52), or
hide text. They are shown as visible escapes instead of being interpreted.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), and the
# Unicode bidirectional overrides that make displayed text differ from its bytes.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every character that a terminal would interpret shown as an escape."""
    return _UNSAFE.sub(_escape, text)
