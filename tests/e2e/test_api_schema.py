"""schemathesis against the running server's `/openapi.json`: generated requests to every operation (valid and
invalid bodies, paths and queries, with a key) never get a 5xx answer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from moe_system.config import Settings

pytestmark = pytest.mark.e2e
KEY = "schema-key"


def test_no_operation_answers_a_server_error(server_home: Path, serve: Any, tmp_path: Path) -> None:
    # answers are capped at a quarter of a second (the per-request time budget: a few tokens each), so hundreds of
    # generated requests fit in about a minute; the rate limit is off, or most would be 429s that prove nothing
    settings = Settings(home=server_home, generation={"time_budget_s": 0.25},
                        server={"api_keys": [f"{KEY}:admin"], "rate_limit_per_minute": 0})
    with serve(settings) as url:
        run = subprocess.run(
            [str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/openapi.json",
             "--checks", "not_a_server_error", "--header", f"Authorization: Bearer {KEY}",
             "--max-examples", "12", "--seed", "7", "--workers", "1", "--request-timeout", "60",
             "--report", "junit", "--report-dir", str(tmp_path)],
            capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    print(run.stdout[-3000:])  # the summary: operations and cases tested
    tested, generated = re.search(r"Tested: (\d+)", run.stdout), re.search(r"(\d+) generated", run.stdout)
    assert tested and int(tested[1]) >= 20, "schemathesis tested fewer operations than the API has"
    assert generated and int(generated[1]) >= 500, "schemathesis generated too few requests to prove anything"


def test_a_lone_surrogate_is_a_422_not_a_500(server_home: Path, serve: Any) -> None:
    """JSON may escape half a UTF-16 pair (`"\\ud800"`), which no UTF-8 text holds: pydantic refuses it as a string,
    and the 422 that echoes the input must still render (schemathesis generates valid Unicode only)."""
    import httpx

    settings = Settings(home=server_home, server={"api_keys": [f"{KEY}:admin"], "rate_limit_per_minute": 0})
    bodies = {"/v1/chat/completions": '{"model": "base", "messages": [{"role": "user", "content": "a\\ud800b"}]}',
              "/chat": '{"message": "\\udfff", "stream": true}', "/generate": '{"prompt": "x\\udc80\\u0000"}'}
    with serve(settings) as url:
        for path, body in bodies.items():
            response = httpx.post(f"{url}{path}", content=body, timeout=60, headers={
                "Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
            assert response.status_code == 422, (path, response.text)
            assert response.json()["detail"][0]["type"] == "string_unicode"
