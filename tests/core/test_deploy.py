"""deploy/: the nginx snippet's paths are the hub's, the units' commands are zalohub's."""

import re
import shlex
from pathlib import Path

from django.urls import Resolver404, resolve

from zalohub.serving import command
from zalohub.serving.front import stream_paths

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NGINX = DEPLOY / "nginx" / "zalohub.conf"
LOCATION = re.compile(r"location\s+(=\s+)?(\S+)\s*\{([^}]*)\}")
# A prefix location stands for the URLs under it: a path under it, and the view's name.
PREFIXES = {"/zalo/webhook/": ("/zalo/webhook/1234567890/", "events:webhook")}


def _locations() -> list[tuple[bool, str, str]]:
    text = "\n".join(line.split("#", 1)[0] for line in NGINX.read_text().splitlines())
    return [(bool(m.group(1)), m.group(2), m.group(3)) for m in LOCATION.finditer(text)]


def _url_name(path: str) -> str:
    match = resolve(path)
    return f"{match.namespace}:{match.url_name}" if match.namespace else match.url_name


def test_every_exact_location_is_a_url_of_the_hub():
    exact = [path for is_exact, path, _body in _locations() if is_exact]
    assert {"/inbox/events/", "/healthz", "/readyz", "/metrics"} <= set(exact)
    for path in exact:
        # It should name a path the hub answers (a typo would send it to the catch-all).
        try:
            resolve(path)
        except Resolver404:
            raise AssertionError(f"{path} in {NGINX.name} is not in the URLconf") from None


def test_every_prefix_location_covers_the_view_it_is_for():
    prefixes = {path for is_exact, path, _body in _locations() if not is_exact and path != "/"}
    assert prefixes == set(PREFIXES)
    for prefix, (example, name) in PREFIXES.items():
        assert example.startswith(prefix)
        assert _url_name(example) == name


def test_the_unbuffered_locations_are_exactly_the_streams():
    unbuffered = {
        path for _exact, path, body in _locations() if re.search(r"proxy_buffering\s+off", body)
    }
    # It should pass each stream on unbuffered, and only the streams (buffering is what
    # spares the web tier slow clients everywhere else).
    assert unbuffered == stream_paths()
    assert {_url_name(path) for path in unbuffered} == {"inbox:events"}


def test_every_location_goes_to_the_hub_and_tls_is_on():
    for _exact, path, body in _locations():
        assert "proxy_pass http://zalohub;" in body, path
    text = NGINX.read_text()
    assert re.search(r"listen 443 ssl;", text)
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in text
    assert "return 301 https://" in text


def _exec_start(unit: str) -> list[str]:
    lines = (DEPLOY / "systemd" / unit).read_text().splitlines()
    (line,) = [line for line in lines if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_the_units_run_the_zalohub_commands():
    web = _exec_start("zalohub-web.service")
    assert Path(web[0]).name == "zalohub" and web[1] == "serve"
    args = command.parser().parse_args(web[2:])  # it should be a command line serve takes
    assert args.workers > 1 and args.host == "127.0.0.1"
    assert args.port == 8000 and re.search(r"server 127\.0\.0\.1:8000;", NGINX.read_text())
    worker = _exec_start("zalohub-worker@.service")
    assert Path(worker[0]).name == "zalohub" and worker[1:] == ["worker"]
