"""The analyzer compiled to WebAssembly (wasm/, scripts/build-wasm.sh): the Node command and the
viewer page against the native pysnap. Skips, saying why, when emscripten or node is absent."""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "common"))

from proc_util import pysnap_bin  # noqa: F401,E402  (fixture)
