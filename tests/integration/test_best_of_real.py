"""Verified best-of-N on the embedded model with the shipped math expert: N answers decode together, the calculator
judges each, the vote's answer is shown with the values its program computed, and the greedy row is what streams.
On float weights, so that the greedy row decoded beside the sampled ones equals the same request decoded alone
(attention over a batch's different spans sums in another order, which int8's activation rounding can turn into
another token)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from moe_system import MoEClient
from moe_system.base import base_model_dir
from moe_system.cli.demo import install_shipped, publisher_key
from moe_system.config import BaseModelSettings, Settings
from moe_system.tools.calculator import run_program
from moe_system.tools.code import extract_code

pytestmark = pytest.mark.integration

STARTERS = Path(__file__).resolve().parents[2] / "experts"
QUESTION = "A box holds 12 pencils. How many pencils are in 7 boxes?"


@pytest.fixture(scope="module", params=[False, True], ids=["alone", "batching"])
def client(request: pytest.FixtureRequest, model_home: Path, tmp_path_factory: pytest.TempPathFactory) -> MoEClient:
    base = BaseModelSettings(name=str(base_model_dir(Settings(home=model_home))), quantization="none")
    settings = Settings(home=tmp_path_factory.mktemp("best_of_home"), base=base)
    client = MoEClient(settings, batching=request.param)
    install_shipped(client, STARTERS, publisher_key(STARTERS))
    return client


def test_best_of_answers_with_a_checked_candidate_whose_steps_agree_with_its_result(client: MoEClient) -> None:
    stream = client.stream_chat([{"role": "user", "content": QUESTION}], "math", max_tokens=96, best_of=4)
    streamed = "".join(stream)
    response = stream.response
    assert response is not None and response.verification is not None
    vote = response.verification
    assert vote["n"] + vote["stopped"] == 4 and 1 <= vote["agreeing"] <= vote["passed"] <= vote["n"]
    assert vote["index"] is not None
    greedy = client.generate(QUESTION, expert="math", max_tokens=96, best_of=1, tools=False)
    assert streamed == greedy.text  # the request's own (greedy) answer is what streams
    assert response.usage["completion_tokens"] > greedy.usage["completion_tokens"]  # every candidate was decoded
    program = extract_code(response.text, "python")
    run = run_program(program)
    answer = re.search(r"Answer:\s*(\S+)", response.text)
    assert answer is not None and float(answer.group(1)) == pytest.approx(float(run.value))
    for number, line in enumerate(program.split("\n"), start=1):  # each step shows the value it computed
        if "# = " in line:
            assert float(line.rsplit("# = ", 1)[1]) == pytest.approx(float(run.assigned[number]))
