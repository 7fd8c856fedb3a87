"""`moe experts ...`: install, list and remove experts; build, sign and verify `.expert` packages.

A publisher's round trip, then a user's install:

    moe experts keygen -o publisher.key
    moe experts package ./my-lora --name sql --version 1.0.0 -o sql-1.0.0.expert
    moe experts sign sql-1.0.0.expert --key publisher.key
    moe experts install sql-1.0.0.expert          # needs the key in experts.trusted_publishers
    moe experts list --json
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from moe_system.cli.common import err, out, print_json
from moe_system.config import Settings, load_settings

if TYPE_CHECKING:
    from moe_system.experts.manifest import Manifest
    from moe_system.experts.registry import InstalledExpert

app = typer.Typer(help="Install, inspect and publish experts.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON document")]
VersionOpt = Annotated[str | None, typer.Option("--version", help="one version (default: the latest)")]
AllowUnsignedOpt = Annotated[
    bool, typer.Option("--allow-unsigned", help="install a package that is unsigned or signed by an untrusted key")
]


@app.command("list")
def list_experts(json_output: JsonOpt = False) -> None:
    """Every installed expert and version, newest version first."""
    from moe_system.experts.registry import Registry

    with Registry(load_settings()) as registry:
        experts = registry.list()
    if json_output:
        print_json([expert.to_dict() for expert in experts])
        return
    if not experts:
        err.print("no experts installed: `moe experts install FILE|DIR|git-URL`")
        return
    table = Table()
    for column in ("name", "version", "kind", "category", "base model", "publisher", "MB", "description"):
        table.add_column(column, justify="right" if column == "MB" else "left")
    for e in experts:
        table.add_row(
            e.name,
            e.version,
            e.kind,
            e.manifest.routing.category or "",
            e.base_model,
            e.publisher or "unsigned",
            f"{e.size_bytes / 2**20:.2f}",
            e.manifest.description,
            end_section=False,
        )
    out.print(table)


@app.command("info")
def info(
    name: Annotated[str, typer.Argument(help="expert name")], version: VersionOpt = None, json_output: JsonOpt = False
) -> None:
    """An installed expert's manifest and where it was installed from."""
    from moe_system.experts.registry import Registry

    with Registry(load_settings()) as registry:
        expert = registry.get(name, version)
    data = expert.to_dict() | {"manifest": expert.manifest.model_dump(mode="json")}
    if json_output:
        print_json(data)
        return
    manifest = expert.manifest
    rows = {
        "expert": f"{expert.name} {expert.version} ({expert.kind})",
        "description": manifest.description,
        "base model": f"{expert.base_model} ({expert.base_sha256[:12]}…)",
        "publisher": expert.publisher or "unsigned",
        "category": manifest.routing.category or "",
        "keywords": ", ".join(manifest.routing.keywords),
        "evaluation": _evaluation(manifest),
        "license": manifest.license,
        "installed": f"{expert.installed_at} from {expert.source}",
        "path": f"{expert.path} ({expert.size_bytes / 2**20:.1f} MB)",
    }
    for key, value in rows.items():
        if value:
            out.print(f"[bold]{key:>12}[/]  {escape(value)}")


@app.command("install")
def install(
    source: Annotated[str, typer.Argument(help="a .expert file, a package folder, git+URL#REF or PATH#REF")],
    allow_unsigned: AllowUnsignedOpt = False,
    replace: Annotated[bool, typer.Option("--replace", help="reinstall a version that is already installed")] = False,
) -> None:
    """Verify an expert (integrity, signature, base model) and install it."""
    from moe_system.base.fingerprint import base_sha256
    from moe_system.experts.registry import Registry

    settings = load_settings()
    base = base_sha256(settings)
    with Registry(settings) as registry:
        expert = registry.install(source, base_sha256=base, allow_unsigned=allow_unsigned, replace=replace)
    _report(f"installed {expert.name} {expert.version} ({expert.path})", expert, settings)


@app.command("update")
def update(
    name: Annotated[str, typer.Argument(help="installed expert name")],
    source: Annotated[str | None, typer.Argument(help="where to look (default: where it was installed from)")] = None,
    allow_unsigned: AllowUnsignedOpt = False,
) -> None:
    """Install a newer version of an expert, when its source has one."""
    from moe_system.base.fingerprint import base_sha256
    from moe_system.experts.registry import Registry

    settings = load_settings()
    base = base_sha256(settings)
    with Registry(settings) as registry:
        latest = registry.get(name).version
        expert = registry.update(name, source, base_sha256=base, allow_unsigned=allow_unsigned)
    if expert is None:
        out.print(f"{escape(name)} {escape(latest)} is up to date")
        return
    _report(f"updated {name} {latest} -> {expert.version} ({expert.path})", expert, settings)


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="installed expert name")], version: VersionOpt = None) -> None:
    """Uninstall one version of an expert, or all of its versions."""
    from moe_system.experts.registry import Registry

    with Registry(load_settings()) as registry:
        removed = registry.remove(name, version)
    for expert in removed:
        out.print(f"removed {escape(expert.name)} {escape(expert.version)}")


@app.command("package")
def package(
    folder: Annotated[Path, typer.Argument(help="a PEFT adapter folder (adapter_config.json + safetensors)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="the .expert file to write")],
    name: Annotated[str | None, typer.Option("--name", help="expert name (a-z, 0-9, _ and -)")] = None,
    version: Annotated[str | None, typer.Option("--version", help="semantic version, e.g. 1.0.0")] = None,
    description: Annotated[str, typer.Option("--description", help="one line for `moe experts list`")] = "",
    base_sha: Annotated[
        str | None, typer.Option("--base-sha256", help="fingerprint of the base model (default: the configured one)")
    ] = None,
) -> None:
    """Pack an adapter folder into a .expert file (writing manifest.json from adapter_config.json if missing).

    Without --base-sha256 the package is bound to the configured base model, unless the folder's own
    manifest.json already names one."""
    from moe_system.base.fingerprint import base_sha256
    from moe_system.base.source import resolve_source
    from moe_system.experts.manifest import MANIFEST_FILE
    from moe_system.experts.package import build_package

    settings = load_settings()
    if base_sha is None and not (folder / MANIFEST_FILE).is_file():
        base_sha = base_sha256(settings)
    manifest = build_package(
        folder,
        output,
        name=name,
        version=version,
        description=description,
        max_bytes=_max_bytes(settings),
        base_name=resolve_source(settings.base).name if base_sha else None,
        base_sha256=base_sha,
    )
    size = output.stat().st_size / 2**20
    out.print(f"{escape(str(output))}  {manifest.name} {manifest.version} ({manifest.kind}, {size:.2f} MB)")


@app.command("keygen")
def keygen(
    output: Annotated[Path, typer.Option("--output", "-o", help="private key file; KEY.pub is written too")],
) -> None:
    """Create an Ed25519 key pair for signing packages; prints the public key and its fingerprint."""
    from moe_system.experts.signing import fingerprint, generate_keypair

    public = generate_keypair(output)
    out.print(public)
    err.print(
        f"fingerprint {fingerprint(public)}; private key {escape(str(output))} (keep it secret), "
        f"public key {escape(str(output))}.pub — add it to experts.trusted_publishers to trust it"
    )


@app.command("sign")
def sign(
    file: Annotated[Path, typer.Argument(help="the .expert file to sign in place")],
    key: Annotated[Path, typer.Option("--key", "-k", help="private key from `moe experts keygen`")],
) -> None:
    """Sign a package with a private key (replacing any earlier signature)."""
    from moe_system.experts.package import sign_package
    from moe_system.experts.signing import fingerprint

    settings = load_settings()
    public = sign_package(file, key, max_bytes=_max_bytes(settings), scratch=settings.home / "tmp")
    out.print(f"signed {escape(str(file))} (fingerprint {fingerprint(public)})")


@app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="a .expert file or an unpacked package folder")],
    json_output: JsonOpt = False,
) -> None:
    """Check every file hash and the signature; exits with code 2 on any mismatch."""
    from moe_system.experts.verify import verify_package

    settings = load_settings()
    result = verify_package(file, _max_bytes(settings), scratch=settings.home / "tmp")  # a folder: in place
    trusted = _trusted(result.public_key, settings)
    if json_output:
        print_json(result.to_dict() | {"trusted": trusted})
        return
    manifest = result.manifest
    signer = (
        f"signed by {result.fingerprint} ({'trusted' if trusted else 'not trusted here'})"
        if result.signed
        else "unsigned"
    )
    out.print(f"OK {escape(manifest.name)} {escape(manifest.version)}: {len(result.files)} files intact, {signer}")


# ---- helpers


def _report(line: str, expert: InstalledExpert, settings: Settings) -> None:
    """The result line, and a warning when the expert went in through --allow-unsigned."""
    out.print(escape(line))
    if expert.publisher is None:
        err.print("[yellow]warning:[/] this expert is not signed")
    elif not _trusted(expert.manifest.integrity.public_key, settings):
        err.print(f"[yellow]warning:[/] this expert is signed by an untrusted key ({expert.publisher})")


def _trusted(public_key: str | None, settings: Settings) -> bool:
    return public_key is not None and public_key in {key.strip() for key in settings.experts.trusted_publishers}


def _evaluation(manifest: Manifest) -> str:
    evaluation = manifest.evaluation
    if evaluation.score is None:
        return ""
    base = f" (base model {evaluation.base_score})" if evaluation.base_score is not None else ""
    return f"{evaluation.task or 'score'}: {evaluation.score}{base}"


def _max_bytes(settings: Settings) -> int:
    return settings.experts.max_package_mb * 2**20
