"""The web UI in a real browser (Debian's chromium, headless, driven by Playwright) against a real server: enter the
key, chat over the WebSocket (base, then auto with its routing line), install an expert from a `.expert` file
through the Experts page and see it in the chat's model picker, remove it; the metrics and memory pages show what
the chat did. Plus the experts admin API over plain HTTP: refusals in OpenAI's error shape, never a 500.

On failure the page's screenshot is saved to `test-artifacts/screenshots/<test>.png` under the repository root.

    MOE_TEST_MODEL_CACHE=/tmp/rh .venv/bin/python -m pytest -q tests/e2e/test_web_ui.py
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import torch
from safetensors.torch import save_file

from moe_system.config import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

KEY = "web-ui-key-789"
AUTH = {"Authorization": f"Bearer {KEY}"}
EXPERT = "uitest"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TIMEOUT_MS = 60_000  # one answer of the embedded model on a busy 2-core machine stays well under this


@pytest.fixture(scope="module")
def server(server_home: Path, serve: Any) -> Iterator[str]:
    """A server with an admin's key, that takes unsigned uploads, and no experts."""
    with serve(Settings(home=server_home, server={"api_keys": [f"{KEY}:admin"]},
                        experts={"allow_unsigned_uploads": True})) as url:
        yield url


@pytest.fixture(scope="module")
def package(server_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unsigned `.expert` of a random-weight LoRA for the embedded model (SmolLM2's module names and shapes)."""
    from moe_system.base.fingerprint import base_sha256
    from moe_system.experts.package import build_package

    folder = tmp_path_factory.mktemp("lora")
    config = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    generator = torch.Generator().manual_seed(0)
    prefix = "base_model.model.model.layers.0.self_attn"
    tensors = {
        f"{prefix}.{module}.lora_{ab}.weight": torch.randn(shape, generator=generator) * 0.01
        for module, out_features in (("q_proj", 576), ("v_proj", 192))
        for ab, shape in (("A", (4, 576)), ("B", (out_features, 4)))
    }
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    output = folder.parent / f"{EXPERT}-1.0.0.expert"
    build_package(folder, output, name=EXPERT, version="1.0.0", description="a web UI test expert",
                  base_name="SmolLM2-135M-Instruct", base_sha256=base_sha256(Settings(home=server_home)))
    return output


@pytest.fixture
def page(request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh headless chromium page (no browser download: Debian's chromium binary); a script error in the page
    fails the test."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                            "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            with screenshot_on_failure(page, request.node.name):
                yield page
                assert not errors, f"script errors in the page: {errors}"
        finally:
            browser.close()


@contextmanager
def screenshot_on_failure(page: Page, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
        raise


# ---- the browser


def test_chat_experts_metrics_and_memory_in_the_browser(server: str, package: Path, page: Page,
                                                        request: pytest.FixtureRequest) -> None:
    from playwright.sync_api import expect

    with screenshot_on_failure(page, request.node.name):
        page.goto(server)
        expect(page.locator("#key-form")).to_be_visible()
        page.fill("#key-input", KEY)
        page.click("#key-save")
        expect(page.locator("#chat-page")).to_be_visible()
        expect(page.get_by_test_id("server-model")).not_to_be_empty()

        ask(page, "base", "What is the capital of France?")
        answer = page.locator('[data-testid="message"][data-role="assistant"]').last
        expect(answer.locator('[data-testid="message-text"]')).to_contain_text("Paris")
        assert int(answer.get_attribute("data-deltas") or 0) >= 1  # it streamed
        expect(answer.get_by_test_id("routing")).to_be_empty()  # a chosen model: no routing line
        ask(page, "auto", "Hi! How are you today?")
        routing = page.locator('[data-testid="message"][data-role="assistant"]').last.get_by_test_id("routing")
        expect(routing).to_contain_text("auto → ")
        expect(routing).to_contain_text("confidence ")
        conversation = page.get_by_test_id("conversation").filter(has_text="What is the capital of France?")
        expect(conversation).to_have_count(1)

        page.click("#new-conversation")  # a new conversation, then back to the old one from the list
        expect(page.locator('[data-testid="message"]')).to_have_count(0)
        conversation.get_by_role("button").click()
        expect(page.locator('[data-testid="message"]')).to_have_count(4)

        page.click("#nav-metrics")
        base = page.locator('[data-testid="metrics-row"][data-expert="base"]')
        expect(base.locator('[data-col="requests"]')).to_have_text(re.compile(r"^[1-9]\d*$"))
        expect(page.get_by_test_id("status-facts")).to_contain_text(re.compile("smollm2", re.IGNORECASE))

        page.click("#nav-memory")
        page.fill("#memory-query", "capital of France")
        page.click("#memory-search")
        expect(page.get_by_test_id("memory-section").first).to_be_visible()
        expect(page.get_by_test_id("memory-sections")).to_contain_text("What is the capital of France?")

        page.click("#nav-experts")
        expect(page.locator("#experts-empty")).to_be_visible()
        page.set_input_files("#expert-file", str(package))
        page.click("#install-expert")  # unsigned, without the checkbox: refused with the reason
        expect(page.get_by_test_id("experts-status")).to_contain_text("is not signed")
        page.set_input_files("#expert-file", str(package))
        page.check("#allow-unsigned")
        page.click("#install-expert")
        expect(page.get_by_test_id("experts-status")).to_contain_text(f"installed {EXPERT} 1.0.0")
        row = page.locator(f'[data-testid="expert-row"][data-name="{EXPERT}"]')
        expect(row).to_contain_text("a web UI test expert")

        page.click("#nav-chat")
        expect(page.locator(f'#model-select option[value="{EXPERT}"]')).to_have_count(1)

        page.click("#nav-experts")
        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_test_id("remove-expert").click()
        expect(row).to_have_count(0)
        expect(page.get_by_test_id("experts-status")).to_contain_text(f"removed {EXPERT}")
        page.click("#nav-chat")
        expect(page.locator("#model-select option")).to_have_count(2)  # auto and base


def ask(page: Page, model: str, question: str) -> None:
    """Send one chat message with `model` and wait until its answer is complete."""
    from playwright.sync_api import expect

    answers = page.locator('[data-testid="message"][data-role="assistant"]')
    before = answers.count()
    page.select_option("#model-select", model)
    page.fill("#max-tokens", "12")
    page.fill("#temperature", "0")
    page.fill("#chat-input", question)
    page.click("#chat-send")
    expect(answers).to_have_count(before + 1)
    expect(answers.last).to_have_attribute("data-state", "done")


# ---- the experts API


def test_experts_api_installs_refuses_and_removes(server: str, package: Path, server_home: Path) -> None:
    def install(content: bytes, **fields: str) -> httpx.Response:
        return httpx.post(f"{server}/experts", headers=AUTH, files={"file": ("pkg.expert", content)}, data=fields,
                          timeout=60)

    assert httpx.post(f"{server}/experts", files={"file": ("pkg.expert", b"x")}).status_code == 401
    tampered = bytearray(package.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    for content, fields, reason in [
        (b"not a package", {"allow_unsigned": "true"}, "pkg.expert: not a valid .expert archive"),
        (bytes(tampered), {"allow_unsigned": "true"}, "pkg.expert"),
        (package.read_bytes(), {}, "is not signed: install it anyway with allow_unsigned=true"),
    ]:
        refused = install(content, **fields)
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert reason in error["message"] and error["type"] == "invalid_request_error"
        assert "/tmp" not in error["message"] and "upload-" not in error["message"]  # no server paths
    no_file = httpx.post(f"{server}/experts", headers=AUTH, data={"allow_unsigned": "true"}, files={"x": ("a", b"")})
    assert no_file.status_code == 400 and "'file'" in no_file.json()["error"]["message"]

    installed = install(package.read_bytes(), allow_unsigned="true")
    assert installed.status_code == 201, installed.text
    assert installed.json()["name"] == EXPERT and installed.json()["signed"] is False
    models = httpx.get(f"{server}/v1/models", headers=AUTH).json()["data"]
    assert EXPERT in {model["id"] for model in models}
    assert [e["name"] for e in httpx.get(f"{server}/experts", headers=AUTH).json()] == [EXPERT]
    again = install(package.read_bytes(), allow_unsigned="true")
    assert again.status_code == 400 and "already installed" in again.json()["error"]["message"]
    assert install(package.read_bytes(), allow_unsigned="true", replace="true").status_code == 201
    chat = httpx.post(f"{server}/chat", headers=AUTH, timeout=120,
                      json={"message": "Say hi.", "model": EXPERT, "max_tokens": 4, "temperature": 0})
    assert chat.status_code == 200 and chat.json()["expert"] == EXPERT, chat.text

    assert httpx.delete(f"{server}/experts/{EXPERT}", headers=AUTH).json() == {"removed": EXPERT,
                                                                               "versions": ["1.0.0"]}
    missing = httpx.delete(f"{server}/experts/{EXPERT}", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "expert_not_found"
    assert httpx.get(f"{server}/experts", headers=AUTH).json() == []
    gone = httpx.post(f"{server}/chat", headers=AUTH, json={"message": "Say hi.", "model": EXPERT, "max_tokens": 4})
    assert gone.status_code == 404, gone.text
    assert not list((server_home / "tmp").iterdir())  # every upload's temporary file is gone


def test_the_page_is_open_and_locked_down(server: str) -> None:
    page = httpx.get(f"{server}/")
    assert page.status_code == 200 and 'src="/static/app.js"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in ("app.js", "style.css"):
        assert httpx.get(f"{server}/static/{asset}").status_code == 200
    assert httpx.get(f"{server}/static/../config.py").status_code == 404
