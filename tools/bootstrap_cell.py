# Set-up (the same first cell in every notebook): use the installed cnncourse, or install it
# into this kernel with pip (Colab, Kaggle, a notebook downloaded alone), keeping torch as it is.
import importlib
import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

NEEDS = "0.1.0"  # the cnncourse version this notebook was written for
SOURCE = os.environ.get("CNNCOURSE_INSTALL") or f"cnncourse>={NEEDS}"  # or any pip requirement: a wheel, a git URL

try:
    import cnncourse
except ImportError:
    print(f"cnncourse is not installed here; installing {SOURCE} with pip ...")
    keep = []  # pin the installed torch and torchvision, so pip never replaces them
    for name in ("torch", "torchvision"):
        try:
            keep.append(f"{name}=={metadata.version(name)}\n")
        except metadata.PackageNotFoundError:
            pass
    with tempfile.TemporaryDirectory() as folder:
        pins = Path(folder, "keep.txt")
        pins.write_text("".join(keep))
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-c", str(pins), SOURCE],
                             capture_output=True, text=True)
    if pip.returncode:
        print(pip.stdout[-3000:], pip.stderr[-3000:], sep="\n")
        raise RuntimeError(f"pip could not install {SOURCE} (its messages are above); "
                           "on Kaggle, turn on Settings > Internet, then run this cell again")
    importlib.invalidate_caches()
from cnncourse import info, runtime  # runtime: profiles, devices, folders (used by the cells below)

if info.platform_name() == "Colab":
    from google.colab import output
    output.enable_custom_widget_manager()  # Colab shows ipywidgets 8 only with it
info.require(NEEDS)
report = info.describe()  # the set-up report: paste it when you ask for help
