"""Names, versions and URLs are checked by allow-list grammars before any process starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_gateway.errors import InvalidRequest
from mcp_gateway.installer.validation import (
    ensure_inside,
    python_requirement_suffix,
    validate_index_url,
    validate_npm_name,
    validate_npm_version,
    validate_pip_dependencies,
    validate_pypi_name,
    validate_python_module,
)

MALICIOUS = [
    "--index-url=http://evil.test/simple",
    "-e",
    "x;touch /tmp/p",
    "x && rm -rf /",
    "$(id)",
    "`id`",
    "../../etc",
    "/etc/passwd",
    "./local",
    "git+https://github.com/x/y.git",
    "github:x/y",
    "file:../x",
    "http://evil.test/x.tgz",
    "https://evil.test/x.whl",
    "x.tgz ",
    "a b",
    "x\nz",
    "",
]


@pytest.mark.parametrize(
    "name", ["express", "@modelcontextprotocol/server-everything", "a.b_c-d", "x" * 214]
)
def test_npm_names_accepted(name: str) -> None:
    assert validate_npm_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        *MALICIOUS,
        "UPPER",
        "@scope",
        "@scope/",
        "@/x",
        "_private",
        ".hidden",
        "node_modules",
        "x" * 215,
        "a/b",
        "@a/b/c",
        "x@1.0.0",
    ],
)
def test_npm_names_refused(name: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid name"):
        validate_npm_name(name)


@pytest.mark.parametrize(
    "version",
    [
        "1.2.3",
        "v1.2.3",
        "1.2.3-beta.1+build.5",
        "^1.2.0",
        "~0.3",
        ">=1.0.0 <2.0.0",
        "1.x",
        "*",
        "1.2.3 - 2.0.0",
        "^1.0.0 || ^2.0.0",
        "latest",
        "next",
        "beta-2",
    ],
)
def test_npm_versions_accepted(version: str) -> None:
    assert validate_npm_version(version) == version


@pytest.mark.parametrize(
    "version",
    [v for v in MALICIOUS if v] + ["1.0.0;id", ">=1  <2", " 1.0.0", "1.0.0|id", "1.0.0#x"],
)
def test_npm_versions_refused(version: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid version"):
        validate_npm_version(version)


def test_missing_npm_version_means_latest() -> None:
    assert validate_npm_version(None) is None
    assert validate_npm_version("") is None


@pytest.mark.parametrize("name", ["mcp-server-time", "Django", "zope.interface", "a", "A_1"])
def test_python_names_accepted(name: str) -> None:
    assert validate_pypi_name(name) == name


@pytest.mark.parametrize(
    "name", [*MALICIOUS, "x[extra]", "x==1.0", "x @ https://e.test/x.whl", "-x"]
)
def test_python_names_refused(name: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid name"):
        validate_pypi_name(name)


@pytest.mark.parametrize(
    ("version", "suffix"),
    [
        ("1.2.3", "==1.2.3"),
        ("2024.1.0rc1", "==2024.1.0rc1"),
        (">=1.0,<2", "<2,>=1.0"),
        ("~=0.6", "~=0.6"),
        ("==1.*", "==1.*"),
        ("latest", None),
        (None, None),
    ],
)
def test_python_versions_become_requirement_suffixes(
    version: str | None, suffix: str | None
) -> None:
    assert python_requirement_suffix(version) == suffix


@pytest.mark.parametrize(
    "version", [v for v in MALICIOUS if v] + ["1.0; python_version<'4'", "@ file:///x", ">= 1.0"]
)
def test_python_versions_refused(version: str) -> None:
    with pytest.raises(InvalidRequest, match="invalid version"):
        python_requirement_suffix(version)


@pytest.mark.parametrize("module", ["mcp_server_time", "pkg.sub.main", "_x"])
def test_python_modules_accepted(module: str) -> None:
    assert validate_python_module(module) == module


@pytest.mark.parametrize("module", ["-m", "x;id", "a..b", "1abc", "a/b", "a-b", "os system"])
def test_python_modules_refused(module: str) -> None:
    with pytest.raises(InvalidRequest, match="pythonModule"):
        validate_python_module(module)


@pytest.mark.parametrize(
    "url", ["https://pypi.org/simple/", "http://127.0.0.1:8080/simple", "https://u:t@idx.test/s/"]
)
def test_index_urls_accepted(url: str) -> None:
    assert validate_index_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc",
        "/srv/wheels",
        "--index-url=x",
        "ftp://x.test/",
        "https://",
        "https://x.test/ a",
        "https://x.test/\n--trusted-host",
        "git+https://x.test/r",
    ],
)
def test_index_urls_refused(url: str) -> None:
    with pytest.raises(InvalidRequest, match="pipIndexUrl"):
        validate_index_url(url)


def test_install_dirs_must_resolve_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "packages"
    root.mkdir()
    assert ensure_inside(root / "srv" / "i-1", root) == (root / "srv" / "i-1").resolve()
    for escape in (root / ".." / "x", root, root / "a" / ".." / ".."):
        with pytest.raises(InvalidRequest):
            ensure_inside(escape, root)
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(InvalidRequest):
        ensure_inside(root / "link" / "x", root)


def test_pip_dependencies_are_plain_requirements_in_canonical_form() -> None:
    assert validate_pip_dependencies(["fastmcp<3", "requests >= 2.28", "a[x,y]~=1.0"]) == (
        "fastmcp<3",
        "requests>=2.28",
        "a[x,y]~=1.0",
    )
    assert validate_pip_dependencies(None) == ()


@pytest.mark.parametrize(
    "spec",
    [*MALICIOUS, "x @ https://u:tok@host/x.whl", 'x; python_version < "3"', "x==1 --hash=a", 7],
)
def test_pip_dependencies_refuse_urls_markers_options_and_shell_without_echoing(
    spec: object,
) -> None:
    with pytest.raises(InvalidRequest) as exc:
        validate_pip_dependencies(["ok<2", spec])
    assert "pipDependencies" in exc.value.message and "item 1" in exc.value.message
    assert str(spec) not in exc.value.message or str(spec) == ""


def test_pip_dependencies_are_a_bounded_list() -> None:
    for bad in ("fastmcp<3", ["x"] * 33):
        with pytest.raises(InvalidRequest):
            validate_pip_dependencies(bad)


@pytest.mark.parametrize(
    "spec", ["x.whl", "x.zip", "x.tgz", "X.TBZ", "x.txz", "x.tlz", "x.tar.lz", "x.tar.lzma"]
)
def test_pip_dependencies_refuse_every_name_pip_would_take_for_a_local_archive(spec: str) -> None:
    # pip's ARCHIVE_EXTENSIONS: such a requirement is read as a file path, not a registry name
    with pytest.raises(InvalidRequest):
        validate_pip_dependencies([spec])
