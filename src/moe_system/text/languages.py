"""Programming languages and formats a request names, for the routing convention's "code in other languages
goes to the base model".

`named_languages(text)` returns canonical names ("python", "sql", "javascript", ...) of the languages a request
names, in English or Russian. Libraries and dialects count as their language (pandas and Django name python,
PostgreSQL and SQLite name sql), so "read the file with pandas" is a Python request. Names that are also
common words or first names (Go, R, C, Ruby, Rust, Julia, Pascal, Swift) count only in a programming context
("in Go", "на Rust", "a C program", "Ruby on Rails"), so "Ruby has 5 apples" and "Pascal's triangle" name no
language. A language is *covered* when an installed expert names it in its keywords (`covered_languages`);
the rules send a request that names only uncovered languages to the base model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from moe_system.text.words import normalize

_CONTEXT = r"(?:in|using|на|для)\s+"  # "in Go", "using Rust", "на Rust", "для Go"
_CODE_NOUN = r"(?:code|program|programs|script|function|functions|class|struct|module|package|library|app|" \
             r"server|snippet|implementation|version|one-liner|method|macro|trait|crate|gem|goroutine|" \
             r"код\w*|программ\w*|скрипт\w*|функци\w*|класс\w*|структур\w*|модул\w*|библиотек\w*)"
_CLAUSE_END = r"\s*(?:[.,!?;]|$)"  # "in C" ends the clause; "for x in c:" in pasted code does not


def _ambiguous(*names: str) -> str:
    """A name that is also an ordinary word: after "in"/"на", before a code noun ("Go HTTP server") or opening
    the request ("Rust: ...")."""
    alternatives = "|".join(names)
    return (rf"(?<!\w){_CONTEXT}(?:{alternatives})(?![\w+#])|(?<![\w.])(?:{alternatives})\s+(?:\w+\s+)?{_CODE_NOUN}\b|"
            rf"^(?:{alternatives})\s*:")


def _letter(*names: str) -> str:
    """A one-letter name (C, R): "in C" ending a clause, "C program", "язык C", "language R"."""
    alternatives = "|".join(names)
    return (rf"(?<!\w){_CONTEXT}(?:{alternatives}){_CLAUSE_END}|(?<![\w.])(?:{alternatives})\s+{_CODE_NOUN}\b|"
            rf"\b(?:language|язык\w*)\s+(?:{alternatives})\b")


_PATTERNS: dict[str, str] = {
    "python": r"\bpython\d?\b|\bpy3\b|\bпитон\w*|\bпайтон\w*|\b(?:pandas|numpy|django|flask|fastapi|aiogram|"
              r"pytest|asyncio|pydantic|sqlalchemy|matplotlib|scipy|tkinter|pygame|beautifulsoup|bs4|scrapy|openpyxl|"
              r"selenium)\b|\brequests\.(?:get|post)\b",
    "sql": r"\b(?:sql|sqlite\d?|mysql|postgres(?:ql)?|postgre|t-sql|pl/sql|plpgsql|mssql|mariadb|clickhouse)\b|"
           r"\bскуль\w*|\bэскуэль\w*",
    "javascript": r"\b(?:javascript|node\.?js|reactjs|react\.js|react native|react component|react hook|vue|vue\.js|"
                  r"angularjs|jquery|express\.js)\b|(?<![\w./])js\b|\b(?:джаваскрипт|яваскрипт)\w*",
    "typescript": r"\btypescript\b|\bтайпскрипт\w*",
    "java": r"\bjava\b(?!\s*script)|\bджав[аеуы]\b|\bджавой\b",
    "kotlin": r"\bkotlin\b|\bкотлин\w*",
    "swift": _ambiguous("swift", "свифт\\w*") + r"|\bswiftui\b",
    "c++": r"(?<![\w+])[cс]\+\+|\bcpp\b|\bна плюсах\b",
    "c#": r"(?<![\w#])[cс]#|\bcsharp\b|\bси\s*шарп\w*|\b(?:asp\.net|\.net core|\.net framework|dotnet)\b",
    "c": _letter("c", "си") + r"|\bansi c\b",
    "go": _ambiguous("go", "го") + r"|\bgolang\b|\bголанг\w*",
    "rust": _ambiguous("rust", "раст\\w*") + r"|\bcargo\.toml\b",
    "php": r"\bphp\b|\bпхп\b|\blaravel\b",
    "ruby": _ambiguous("ruby", "руби") + r"|\bruby on rails\b",
    "perl": r"\bperl\b|\bперл\w*",
    "scala": r"\bscala\b",
    "haskell": r"\bhaskell\b|\bхаскел\w*",
    "pascal": _ambiguous("pascal", "паскал\\w*") + r"|\bdelphi\b|\bделфи\b|\bдельфи\b",
    "lua": r"\blua\b|\bлуа\b",
    "dart": _ambiguous("dart", "дарт\\w*") + r"|\bflutter\b",
    "r": _letter("r") + r"|\bggplot2?\b|\bdplyr\b|\brstudio\b",
    "julia": _ambiguous("julia", "джулии", "джулия"),
    "matlab": r"\bmatlab\b|\bматлаб\w*",
    "shell": r"\b(?:bash|zsh|shell script|powershell|batch file|bat file)\b|\bбаш\w*|\bшелл\w*|\bпауэршелл\w*",
    "1c": r"\b1[cс]\b",
    "vba": r"\bvba\b|\bмакрос\w*",
    "spreadsheet": r"\b(?:excel|google sheets|sheets)\s+formula\b|\bformula\s+(?:in|for)\s+(?:excel|google sheets)\b|"
                   r"\bформул\w*\s+(?:в|для)\s+(?:excel|экселе?|гугл.таблиц\w*)",
    "markup": r"\b(?:html|css|scss|sass)\b|\bхтмл\b|\bсверстай\w*",
    "config": r"\b(?:dockerfile|docker-compose|docker compose|kubernetes|k8s|helm chart|terraform|ansible|"
              r"makefile|cmake|crontab|systemd unit|github actions|gitlab ci)\b|\b(?:nginx|apache)\s+(?:config|конфиг)",
    "assembly": r"\b(?:assembly language|assembler|asm|nasm)\b|\bассемблер\w*",
    "other": r"\b(?:awk|grep|cron|elixir|erlang|clojure|f#|objective-c|groovy|solidity|verilog|vhdl|fortran|cobol|"
             r"prolog|lisp|ocaml|gdscript|autohotkey)\b",
}
# Substrings one of which every match of a language's pattern contains (normalized text has single spaces). The
# rules run on every request with a p99 budget of 0.5 ms, and thirty regular expressions cost that alone;
# `in` tests rule most of them out for a few microseconds. `tests/unit/test_routing.py` checks the two agree.
_NEEDLES: dict[str, tuple[str, ...]] = {
    "python": ("py", "питон", "пайтон", "pandas", "numpy", "django", "flask", "fastapi", "aiogram", "asyncio",
               "sqlalchemy", "matplotlib", "scipy", "tkinter", "beautifulsoup", "bs4", "scrapy", "openpyxl",
               "selenium", "requests."),
    "sql": ("sql", "postgre", "mariadb", "clickhouse", "скуль", "эскуэль"),
    "javascript": ("js", "javascript", "node", "react", "vue", "jquery", "джаваскрипт", "яваскрипт"),
    "typescript": ("typescript", "тайпскрипт"),
    "java": ("java", "джав"),
    "kotlin": ("kotlin", "котлин"),
    "swift": ("swift", "свифт"),
    "c++": ("++", "cpp", "плюсах"),
    "c#": ("#", "csharp", "шарп", ".net", "dotnet"),
    "c": (" c", "c ", " си", "си "),
    "go": ("go", "го"),
    "rust": ("rust", "раст", "cargo.toml"),
    "php": ("php", "пхп", "laravel"),
    "ruby": ("ruby", "руби"),
    "perl": ("perl", "перл"),
    "scala": ("scala",),
    "haskell": ("haskell", "хаскел"),
    "pascal": ("pascal", "паскал", "delphi", "делфи", "дельфи"),
    "lua": ("lua", "луа"),
    "dart": ("dart", "дарт", "flutter"),
    "r": (" r", "r ", "ggplot", "dplyr", "rstudio"),
    "julia": ("julia", "джули"),
    "matlab": ("matlab", "матлаб"),
    "shell": ("bash", "zsh", "shell", "bat", "баш", "шелл"),
    "1c": ("1c", "1с"),
    "vba": ("vba", "макрос"),
    "spreadsheet": ("formula", "формул"),
    "markup": ("html", "css", "sass", "хтмл", "сверстай"),
    "config": ("docker", "kubernetes", "k8s", "helm", "terraform", "ansible", "make", "crontab", "systemd", "github",
               "gitlab", "nginx", "apache"),
    "assembly": ("assembl", "asm", "ассемблер"),
    "other": ("awk", "grep", "cron", "elixir", "erlang", "clojure", "f#", "objective-c", "groovy", "solidity",
              "verilog", "vhdl", "fortran", "cobol", "prolog", "lisp", "ocaml", "gdscript", "autohotkey"),
}
_COMPILED = {name: (_NEEDLES[name], re.compile(pattern)) for name, pattern in _PATTERNS.items()}


@lru_cache(maxsize=16384)
def named_languages(text: str) -> frozenset[str]:
    """Canonical names of the languages and formats `text` names (see the module doc). Cached: the rules and
    the classifier's features both ask for every request."""
    norm = normalize(text)
    return frozenset(name for name, (needles, pattern) in _COMPILED.items()
                     if any(needle in norm for needle in needles) and pattern.search(norm))


def covered_languages(keywords: Iterable[str]) -> set[str]:
    """The languages an expert's keywords name (the python expert's "python" -> {"python"})."""
    found: set[str] = set()
    for keyword in keywords:
        found |= named_languages(keyword)
    return found


def uncovered(text: str, covered: set[str]) -> set[str]:
    """The languages `text` names when none of them is `covered` (empty otherwise): such a request goes to the
    base model."""
    named = named_languages(text)
    return set() if named & covered else set(named)
