"""The project the cloud deploy benchmarks deploy: one built service with an ingress port and
a healthcheck, and N - 1 image services, each reading a config value."""

from __future__ import annotations

from pathlib import Path


def write_project(directory: Path, services: int) -> None:
    (directory / "web").mkdir()
    (directory / "web" / "Dockerfile").write_text(
        'FROM python:3.12-slim\nCMD ["python", "-m", "http.server", "80"]\n')
    lines = ["name: bench", "services:", """\
  s0:
    build: ./web
    ports: [{target: 80, mode: ingress}]
    healthcheck:
      test: ["CMD", "wget", "-q", "--spider", "http://localhost/"]
    environment: [API_KEY]
    deploy: {resources: {reservations: {memory: 512M}}}"""]
    for i in range(1, services):
        lines.append(f"""\
  s{i}:
    image: nginx:1.27
    expose: ["8080"]
    environment: [API_KEY]
    deploy: {{resources: {{reservations: {{memory: 512M}}}}}}""")
    (directory / "compose.yaml").write_text("\n".join(lines) + "\n")
