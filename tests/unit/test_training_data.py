"""The trainer's dataset layer: loading and validation, deduplication, splits and their manifest, the
contamination check, and encoding to ids, labels and batches.

Encoding runs on a byte-level ChatML tokenizer built in memory (one token per byte plus the ChatML special
tokens), so decoding is exact, Russian included, and nothing is downloaded.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from moe_system.base.tokenizer import FALLBACK_TEMPLATE, ChatTokenizer
from moe_system.errors import DatasetError
from moe_system.training.data import Example, load_dataset
from moe_system.training.dedup import dedup
from moe_system.training.encode import (
    IGNORE_INDEX,
    EncodedExample,
    collate,
    difficulty,
    encode_chat,
    encode_dataset,
    encode_text,
    length_bucketed_batches,
    pad_token_id,
)
from moe_system.training.splits import (
    SplitManifest,
    contamination_check,
    eval_item_text,
    require_clean,
    split_dataset,
)

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
WORDS = [f"w{i}" for i in range(3000)]


def chat(user: str, assistant: str, line: int = 1, **meta: float) -> Example:
    return Example(
        messages=[{"role": "user", "content": user}, {"role": "assistant", "content": assistant}],
        meta=dict(meta), line=line, source="t.jsonl",
    )


def random_text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(WORDS, k=n))


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def make_tokenizer(template: str = CHATML) -> ChatTokenizer:
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: i for i, token in enumerate(["<|endoftext|>", "<|im_start|>", "<|im_end|>", *alphabet])}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    hf = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"], chat_template=template,
    )
    return ChatTokenizer.from_hf(hf)


@pytest.fixture(scope="module")
def tok() -> ChatTokenizer:
    return make_tokenizer()


# ---------------------------------------------------------------- loading


def test_load_jsonl_formats(tmp_path: Path) -> None:
    records = [
        {"messages": [{"role": "system", "content": "Будь краток."}, {"role": "user", "content": "Привет"},
                      {"role": "assistant", "content": "Здравствуйте!"}], "meta": {"difficulty": 2}},
        {"prompt": "2+2?", "completion": "4"},
        {"text": "A plain document."},
    ]
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in records[:2]) + "\n\n" + json.dumps(records[2])
    examples = load_dataset(write(tmp_path / "data.jsonl", body))
    assert [e.line for e in examples] == [1, 2, 4]
    assert examples[0].messages == records[0]["messages"] and examples[0].meta == {"difficulty": 2}
    assert examples[0].key_text == "привет здравствуйте!"
    assert examples[1].messages == [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    assert examples[2].text == "A plain document." and not examples[2].is_chat
    assert examples[0].source == str(tmp_path / "data.jsonl")


def test_key_text_is_normalized_and_leaves_out_system() -> None:
    a = chat("ＳＥＬＥＣＴ  all\n\tROWS", "Ok")
    b = Example(messages=[{"role": "system", "content": "other"}, {"role": "user", "content": "select all rows"},
                          {"role": "assistant", "content": "ok"}])
    assert a.key_text == b.key_text == "select all rows ok"
    assert a.key_sha256 == b.key_sha256 and a.sha256 != b.sha256


def test_load_txt_documents_and_folder(tmp_path: Path) -> None:
    tmp_path = tmp_path / ".runs"  # a hidden parent folder is fine; hidden entries inside are skipped
    (tmp_path / ".cache").mkdir(parents=True)
    write(tmp_path / ".cache" / "skipped.txt", "not data")
    write(tmp_path / "b.txt", "Single document\n---\nwithout a blank line before the dashes.\n")
    write(tmp_path / "a.txt", "First doc,\nline two.\n\n---\n\nSecond doc.\n\n---\nThird.\n\n---\n")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "c.jsonl", '{"prompt": "p", "completion": "c"}\n')
    write(tmp_path / "notes.md", "ignored")
    single = load_dataset(tmp_path / "b.txt")
    assert [e.text for e in single] == ["Single document\n---\nwithout a blank line before the dashes."]
    examples = load_dataset(tmp_path)
    assert [(Path(e.source).name, e.line) for e in examples] == [
        ("a.txt", 1), ("a.txt", 6), ("a.txt", 9), ("b.txt", 1), ("c.jsonl", 1)
    ]
    assert examples[1].text == "Second doc."


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"messages": [1, 2]}', "'messages' must be a list of {role, content}"),
        ('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant"', "invalid JSON"),
        ('{"messages": [{"role": "bot", "content": "hi"}]}', "unknown role 'bot' in message 0"),
        ('{"messages": [{"role": "user", "content": " "}, {"role": "assistant", "content": "a"}]}',
         "message 0 (user) has empty content"),
        ('{"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]}',
         "the last message must be from the assistant"),
        ('{"prompt": "only a prompt"}', "'completion' must be a string"),
        ('{"prompt": "p", "completion": "c", "meta": [1]}', "'meta' must be an object"),
        ('{"prompt": "p", "completion": "c", "meta": {"difficulty": "hard"}}', "'meta.difficulty' must be a number"),
        ('{"input": "x"}', "expected exactly one of"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_jsonl_validation_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = '{"prompt": "p", "completion": "c"}'
    path = write(tmp_path / "data.jsonl", f"{good}\n\n{good}\n{line}\n{good}\n")
    with pytest.raises(DatasetError) as err:
        load_dataset(path)
    assert str(err.value).startswith(f"{path}:4: {message}")
    assert "\n" not in str(err.value)


def test_file_level_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_bytes(b'{"prompt": "p", "completion": "c"}\n{"prompt": "\xff"}\n')
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: not valid UTF-8"):
        load_dataset(tmp_path / "bad.jsonl")
    with pytest.raises(DatasetError, match=r"empty\.txt: the file is empty"):
        load_dataset(write(tmp_path / "empty.txt", "\n  \n"))
    with pytest.raises(DatasetError, match=r"gap\.txt:4: empty document"):
        load_dataset(write(tmp_path / "gap.txt", "one\n\n---\n\n---\ntwo\n"))
    with pytest.raises(DatasetError, match=r"unsupported file type '\.csv'"):
        load_dataset(write(tmp_path / "x.csv", "a,b"))
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_dataset(tmp_path / "missing.jsonl")
    (tmp_path / "void").mkdir()
    with pytest.raises(DatasetError, match=r"no \.jsonl or \.txt files"):
        load_dataset(tmp_path / "void")


# ---------------------------------------------------------------- dedup


def test_dedup_removes_exact_and_near_duplicates_keeps_distinct() -> None:
    rng = random.Random(1)
    examples = [chat(random_text(rng, 40), random_text(rng, 20), line=i + 1) for i in range(200)]
    examples.append(Example(text=random_text(rng, 300), line=201, source="t.jsonl"))  # word 5-gram shingles
    exact = chat(examples[10].messages[0]["content"].upper(), "  " + examples[10].messages[1]["content"], line=202)
    words = examples[20].messages[0]["content"].split()
    words[17] = "changed"
    near = chat(" ".join(words), examples[20].messages[1]["content"], line=203)
    document = (examples[200].text or "").split()
    document[100], document[200] = "two", "edits"
    near_document = Example(text=" ".join(document), line=204, source="t.jsonl")
    short_a = chat("Count the users", "SELECT count(*) FROM users;", 205)
    short_b = chat("count the users", "SELECT count(*) FROM users", 206)
    kept, report = dedup([*examples, exact, near, near_document, short_a, short_b])
    assert kept == [*examples, short_a]
    assert (report.total, report.kept, report.exact_removed, report.near_removed) == (206, 202, 1, 3)
    pairs = {(p.kind, p.removed, p.kept) for p in report.pairs}
    assert pairs == {("exact", "t.jsonl:202", "t.jsonl:11"), ("near", "t.jsonl:203", "t.jsonl:21"),
                     ("near", "t.jsonl:204", "t.jsonl:201"), ("near", "t.jsonl:206", "t.jsonl:205")}
    assert all(p.similarity >= 0.9 for p in report.pairs)
    assert "removed 1 exact and 3 near" in report.summary()


def test_dedup_threshold_controls_near_removal() -> None:
    rng = random.Random(2)
    base = random_text(rng, 50).split()
    variant = list(base)
    for i in (5, 15, 25, 35, 45):
        variant[i] = "other"
    pair = [chat(" ".join(base), "a"), chat(" ".join(variant), "a")]
    assert len(dedup(pair)[0]) == 2
    assert len(dedup(pair, near_threshold=0.7)[0]) == 1
    with pytest.raises(DatasetError, match="threshold"):
        dedup(pair, near_threshold=0)


# ---------------------------------------------------------------- splits


def test_split_is_deterministic_and_order_independent(tmp_path: Path) -> None:
    rng = random.Random(3)
    examples = [chat(random_text(rng, 10), random_text(rng, 5), line=i) for i in range(1000)]
    splits = split_dataset(examples, val=0.1, test=0.05, seed=7)
    shuffled = list(examples)
    rng.shuffle(shuffled)
    again = split_dataset(shuffled, val=0.1, test=0.05, seed=7)
    for name in ("train", "val", "test"):
        assert {e.sha256 for e in getattr(splits, name)} == {e.sha256 for e in getattr(again, name)}
    assert splits.train == [e for e in examples if e in splits.train]  # input order kept
    assert 60 < len(splits.val) < 140 and 25 < len(splits.test) < 80
    assert splits.manifest() == again.manifest()
    other = split_dataset(examples, val=0.1, test=0.05, seed=8)
    assert other.manifest().sha256["val"] != splits.manifest().sha256["val"]
    manifest = splits.manifest()
    assert manifest.counts == {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)}
    manifest.save(tmp_path / "splits.json")
    assert SplitManifest.load(tmp_path / "splits.json") == manifest
    data = json.loads((tmp_path / "splits.json").read_text())
    data["examples"]["val"][0] = "0" * 64
    write(tmp_path / "bad.json", json.dumps(data))
    with pytest.raises(DatasetError, match="inconsistent"):
        SplitManifest.load(tmp_path / "bad.json")
    with pytest.raises(DatasetError, match="not a readable split manifest"):
        SplitManifest.load(write(tmp_path / "junk.json", "{}"))


def test_small_datasets_get_val_and_test_and_duplicates_stay_together() -> None:
    examples = [chat(f"question {i}", "answer") for i in range(3)]
    splits = split_dataset(examples, val=0.05, test=0.05)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1, 1, 1)
    assert len(split_dataset(examples[:1], val=0.05).val) == 0
    assert len(split_dataset(examples, val=0, test=0).train) == 3
    twins = [chat(f"Question {i}", "answer") for i in range(300)]
    twins += [chat(f"question  {i}", "Answer") for i in range(300)]
    result = split_dataset(twins, val=0.2, test=0.2, seed=1)
    for name in ("train", "val", "test"):
        keys = [e.key_text for e in getattr(result, name)]
        assert len(keys) == 2 * len(set(keys))
    with pytest.raises(DatasetError, match="split fractions"):
        split_dataset(examples, val=0.6, test=0.4)


# ---------------------------------------------------------------- contamination


def test_contamination_catches_exact_and_near_duplicates(caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(4)
    train = [chat(random_text(rng, 50), random_text(rng, 30), line=i + 1) for i in range(300)]
    planted_exact = train[40].messages[0]["content"].upper()
    near_words = train[90].messages[1]["content"].split() + random_text(rng, 8).split()
    near_words[3] = "different"
    short = train[120].messages[0]["content"].split()[10:14]  # 4 words: compared by character 13-grams
    clean_items = [{"question": random_text(rng, 40)} for _ in range(20)]
    items = [*clean_items, {"question": planted_exact}, {"prompt": " ".join(near_words)},
             {"question": " ".join(short)}, {"question": "2+2"}]
    report = contamination_check(train, [eval_item_text(i) for i in items])
    found = {(item.index, item.kind, item.train) for item in report.items}
    assert found == {(20, "exact", "t.jsonl:41"), (21, "ngram", "t.jsonl:91"), (22, "ngram", "t.jsonl:121")}
    near = next(item for item in report.items if item.index == 21)
    assert 0.5 <= near.overlap < 0.7
    assert (report.exact, report.near, report.clean) == (1, 2, False)
    with pytest.raises(DatasetError, match=r"3 of 24 eval items overlap the training data \(1 exact, 2 sharing"):
        require_clean(report, force=False)
    with caplog.at_level(logging.WARNING, logger="moe_system.training.splits"):
        require_clean(report, force=True)
    assert "training despite contamination" in caplog.text
    assert contamination_check(train, [eval_item_text(i) for i in clean_items]).clean
    require_clean(contamination_check(train, [eval_item_text(i) for i in clean_items]), force=False)


def test_eval_item_text_joins_fields() -> None:
    item = {"question": "How many users?", "schema": ["CREATE TABLE users (id INT)"], "answer": "SELECT 1"}
    assert eval_item_text(item) == 'How many users?\n["CREATE TABLE users (id INT)"]'
    assert eval_item_text({"prompt": "def f():"}) == "def f():"
    with pytest.raises(DatasetError, match="needs one of question, prompt, schema"):
        eval_item_text({"answer": "x"})


# ---------------------------------------------------------------- encoding


def labelled_spans(encoded: EncodedExample) -> list[list[int]]:
    spans: list[list[int]] = []
    for k, label in enumerate(encoded.labels):
        if label == IGNORE_INDEX:
            continue
        assert label == encoded.input_ids[k]
        if k and encoded.labels[k - 1] != IGNORE_INDEX:
            spans[-1].append(label)
        else:
            spans.append([label])
    return spans


def test_encode_chat_labels_exactly_the_assistant_turns(tok: ChatTokenizer) -> None:
    messages = [
        {"role": "system", "content": "Ты помощник."},
        {"role": "user", "content": "Сколько будет 2+2?"},
        {"role": "assistant", "content": "Будет 4."},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "\n  6, with leading whitespace"},
    ]
    encoded = encode_chat(Example(messages=messages), tok, max_len=512)
    assert encoded is not None
    assert encoded.input_ids == tok.chat_ids(messages, add_generation_prompt=False)
    spans = [tok.tokenizer.decode(span) for span in labelled_spans(encoded)]
    assert spans == ["Будет 4.<|im_end|>", "\n  6, with leading whitespace<|im_end|>"]


def test_encode_chat_truncation_keeps_the_start(tok: ChatTokenizer) -> None:
    example = chat("question", "a long answer")
    prompt_len = len(tok.chat_ids(example.messages[:1]))
    cut = encode_chat(example, tok, max_len=prompt_len + 3)
    assert cut is not None and len(cut.input_ids) == prompt_len + 3
    assert tok.tokenizer.decode(labelled_spans(cut)[0]) == "a l"
    assert encode_chat(example, tok, max_len=prompt_len) is None
    result = encode_dataset([example, chat("q", "a"), Example(text="doc")], tok, max_len=prompt_len)
    assert (len(result.examples), result.truncated, result.dropped) == (2, 1, 1)


def test_encode_chat_other_templates(tok: ChatTokenizer) -> None:
    plain = make_tokenizer(FALLBACK_TEMPLATE)
    encoded = encode_chat(chat("hi", "hello"), plain, max_len=64)
    assert encoded is not None
    assert [plain.tokenizer.decode(s) for s in labelled_spans(encoded)] == [" hello\n"]
    unstable = make_tokenizer(CHATML.replace("m['content']", "m['content'] + (' [last]' if loop.last else '')"))
    with pytest.raises(DatasetError, match=r"t\.jsonl:1: the chat template is not prefix-stable at message 1"):
        encode_chat(chat("hi", "hello"), unstable, max_len=64)


def test_encode_text_windows_never_mix_documents(tok: ChatTokenizer) -> None:
    eos = tok.tokenizer.eos_token_id
    windows = encode_text(Example(text="abcdefghij"), tok, max_len=4)  # 10 bytes + EOS = 11 tokens
    assert [len(w.input_ids) for w in windows] == [4, 4, 3]
    assert all(w.labels == w.input_ids for w in windows)
    assert windows[-1].input_ids[-1] == eos and eos not in windows[0].input_ids
    assert tok.tokenizer.decode([i for w in windows for i in w.input_ids]) == "abcdefghij<|im_end|>"
    assert [len(w.input_ids) for w in encode_text(Example(text="abcdefgh"), tok, max_len=4)] == [4, 4]
    result = encode_dataset([Example(text="Привет"), Example(text="ok")], tok, max_len=64)
    assert [tok.decode(e.input_ids) for e in result.examples] == ["Привет", "ok"]


def test_difficulty_from_meta_or_length() -> None:
    assert difficulty(chat("q", "a", difficulty=3), n_tokens=10, max_len=100) == 3.0
    assert difficulty(chat("q", "a"), n_tokens=10, max_len=100) == 0.1
    assert difficulty(chat("q", "a"), n_tokens=500, max_len=100) == 1.0


def test_collate_pads_right(tok: ChatTokenizer) -> None:
    pad = pad_token_id(tok)
    batch = collate([EncodedExample([5, 6, 7], [IGNORE_INDEX, 6, 7]), EncodedExample([8], [8])], pad)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, pad, pad]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert all(t.dtype == torch.long for t in batch.values())


def test_length_bucketed_batches() -> None:
    rng = random.Random(5)
    encoded = [EncodedExample([1] * n, [1] * n) for n in (rng.randint(1, 500) for _ in range(1000))]
    batches = length_bucketed_batches(encoded, batch_size=8, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert batches == length_bucketed_batches(encoded, batch_size=8, seed=0)
    assert batches != length_bucketed_batches(encoded, batch_size=8, seed=1)

    def padding(batches: list[list[int]]) -> int:
        return sum(max(len(encoded[i].input_ids) for i in b) * len(b) - sum(len(encoded[i].input_ids) for i in b)
                   for b in batches)

    naive = [list(range(i, i + 8)) for i in range(0, 1000, 8)]
    assert padding(batches) * 10 < padding(naive)
    ordered = length_bucketed_batches(encoded, batch_size=8, seed=0, shuffle=False)
    assert set(ordered[0]) < set(range(400)) and set(ordered[-1]) < set(range(800, 1000))
    with pytest.raises(DatasetError, match="batch size"):
        length_bucketed_batches(encoded, batch_size=0, seed=0)


def test_contamination_tells_template_siblings_from_leaks() -> None:
    """Generated tasks share templates: same wording with other numbers is another problem, not a leak."""
    template = "$ {} is put into a savings account with simple interest of 5% per year. How much money is in the " \
               "account after 6 years?"
    train = [chat(template.format(19000), "Answer: 24700", line=1), chat("unrelated words here", "ok", line=2)]
    sibling = {"question": template.format(49500)}
    copied = {"question": template.format(19000).replace("account after", "deposit after")}
    report = contamination_check(train, [eval_item_text(sibling), eval_item_text(copied)])
    assert [(item.index, item.kind) for item in report.items] == [(1, "ngram")]
