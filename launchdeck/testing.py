"""Helpers for launchdeck's own tests and benchmarks: images made offline, event recording.

No image registry is needed: the test image is a root filesystem of the machine's static
busybox (Debian's busybox-static), imported into the Docker Engine. It has a shell, an HTTP
server (httpd, with CGI), wget and nc, which is enough to build real multi-service projects.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

from launchdeck.engine.events import Recorder

__all__ = ["BUSYBOX", "BUSYBOX_TAGS", "DEBIAN", "DEBIAN_TAGS", "Recorder", "busybox_rootfs",
           "ensure_busybox_image", "ensure_debian_image"]

BUSYBOX = "launchdeck-test/busybox:latest"
BUSYBOX_TAGS = (BUSYBOX, "busybox:1.36")
"""The image under every name the tests and examples/ use."""

_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/hosts": "127.0.0.1 localhost\n",
}


def busybox_rootfs(busybox: Path = Path("/bin/busybox")) -> bytes:
    """A tar of a root filesystem: busybox, a link per applet, a few files in /etc."""
    if not busybox.is_file():
        raise FileNotFoundError(f"{busybox} is missing: install Debian's busybox-static")
    applets = subprocess.run([str(busybox), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    out = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for directory, mode in (("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777),
                                ("root", 0o700), ("www", 0o755), ("proc", 0o555),
                                ("sys", 0o555), ("dev", 0o755)):
            info = tarfile.TarInfo(directory)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, now
            tar.addfile(info)
        tar.add(str(busybox), arcname="bin/busybox")
        for applet in applets:
            if applet == "busybox":
                continue
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, "busybox", now
            tar.addfile(info)
        for name, text in _FILES.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, now
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def ensure_busybox_image(api: Any) -> str:
    """Import the busybox image under every name in BUSYBOX_TAGS unless it is there."""
    import docker.errors

    try:
        image_id = api.inspect_image(BUSYBOX)["Id"]
    except docker.errors.ImageNotFound:
        repository, tag = BUSYBOX.rsplit(":", 1)
        api.import_image_from_data(busybox_rootfs(), repository=repository, tag=tag,
                                   changes=['CMD ["sh"]', "ENV PATH=/bin"])
        image_id = api.inspect_image(BUSYBOX)["Id"]
    for name in BUSYBOX_TAGS[1:]:
        repository, tag = name.rsplit(":", 1)
        api.tag(image_id, repository, tag)
    return image_id


DEBIAN = "launchdeck-test/debian:bookworm"
DEBIAN_TAGS = (DEBIAN, "python:3.12-slim", "node:22-slim")
"""A Debian with python3 and nodejs, under the base-image names the templates use."""
_MIRROR = "http://deb.debian.org/debian"


def ensure_debian_image(api: Any) -> str:
    """Build the Debian image with debootstrap (about a minute, once) unless it is there."""
    import shutil
    import tempfile

    import docker.errors

    try:
        image_id = api.inspect_image(DEBIAN)["Id"]
    except docker.errors.ImageNotFound:
        if not shutil.which("debootstrap"):
            raise FileNotFoundError("debootstrap is missing: install Debian's debootstrap") from None
        with tempfile.TemporaryDirectory(prefix="launchdeck-rootfs-") as tmp:
            root = Path(tmp) / "root"
            subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,nodejs",
                            "bookworm", str(root), _MIRROR], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            with (root / "etc" / "passwd").open("a") as passwd:
                passwd.write("node:x:1000:1000:node:/home/node:/bin/sh\n")
            with (root / "etc" / "group").open("a") as group:
                group.write("node:x:1000:\n")
            (root / "home" / "node").mkdir(parents=True, exist_ok=True)
            os.chown(root / "home" / "node", 1000, 1000)
            tar = subprocess.run(["tar", "-C", str(root), "-c", "."], check=True,
                                 stdout=subprocess.PIPE).stdout
        repository, tag = DEBIAN.rsplit(":", 1)
        api.import_image_from_data(tar, repository=repository, tag=tag, changes=[
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            'CMD ["bash"]'])
        image_id = api.inspect_image(DEBIAN)["Id"]
    for name in DEBIAN_TAGS[1:]:
        repository, tag = name.rsplit(":", 1)
        api.tag(image_id, repository, tag)
    return image_id
