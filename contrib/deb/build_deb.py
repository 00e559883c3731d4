"""Builds the Debian package (`make deb`) and the throwaway Debian root its test installs it into.

The venv at /opt/stoad is made inside a debootstrapped root of the target release by that
release's own python3, from wheels downloaded here for that interpreter: see docs/decisions.md.

    build_deb.py build --wheel dist/stoad-X-py3-none-any.whl --out dist --cache .cache/deb
    build_deb.py root DEST --cache .cache/deb      # a fresh copy of the cached base root
    build_deb.py lock --report resolve.json --out contrib/deb/requirements.txt
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEBIAN = os.path.join(HERE, "debian")
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
# The package's dependencies besides python3.X and libc6: procps has /bin/kill (ExecReload=).
DEPENDS = ("procps",)
# The base root both builds the venv (python3-venv) and hosts the install test, so it holds the
# package's dependencies (the test installs offline) and systemd (systemd-sysusers and
# systemd-analyze, as on a VM). Part of the cache key.
BASE_PACKAGES = ("python3-venv", "systemd", *DEPENDS)
DEB_REVISION = "1"


def run(*command: str) -> str:
    """Run a command, raising with its output when it fails."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stdout}{result.stderr}")
    out: str = result.stdout
    return out


def host_release() -> str:
    with open("/etc/os-release", encoding="utf-8") as f:
        fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    return fields["VERSION_CODENAME"].strip('"')


def mirror_for(release: str) -> str:
    """The Debian mirror this machine's apt already uses for the release (none is hard-coded)."""
    targets = run("apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE)", "Created-By: Packages")
    for line in targets.splitlines():
        uri, _, suite = line.partition(" ")
        if suite == release:
            return uri
    raise SystemExit(f"no apt source for {release!r}: set DEB_MIRROR or add one to the apt sources")


def base_root(cache: str, release: str, arch: str) -> str:
    """The cached tarball of a minbase root of the release, made with debootstrap once."""
    key = hashlib.sha256(" ".join(BASE_PACKAGES).encode()).hexdigest()[:12]
    tarball = os.path.join(cache, f"{release}-{arch}", f"rootfs-minbase-{key}.tar")
    if os.path.exists(tarball):
        return tarball
    os.makedirs(os.path.dirname(tarball), exist_ok=True)
    mirror = os.environ.get("DEB_MIRROR") or mirror_for(release)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(tarball)) as work:
        root = os.path.join(work, "root")
        print(f"* debootstrap --variant=minbase {release} (cached as {os.path.relpath(tarball)})", flush=True)
        run("debootstrap", "--variant=minbase", f"--arch={arch}", f"--include={','.join(BASE_PACKAGES)}",
            release, root, mirror)
        run("chroot", root, "apt-get", "clean")
        run("tar", "--numeric-owner", "-C", root, "-cf", tarball + ".part", ".")
    os.replace(tarball + ".part", tarball)
    _prune(os.path.dirname(tarball), "rootfs-minbase-", keep=os.path.basename(tarball))
    return tarball


def _prune(directory: str, prefix: str, keep: str) -> None:
    """Drop the cache entries an older package list or requirements file left behind."""
    for name in os.listdir(directory):
        if name.startswith(prefix) and name != keep:
            path = os.path.join(directory, name)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def extract_root(tarball: str, dest: str) -> None:
    os.makedirs(dest, exist_ok=True)
    run("tar", "--numeric-owner", "-C", dest, "-xf", tarball)


def target_python(root: str) -> tuple[str, str]:
    """(python3 version "3.11", glibc version "2.36") of the root's interpreter and C library."""
    version = run("chroot", root, "python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])").strip()
    glibc = run("chroot", root, "getconf", "GNU_LIBC_VERSION").split()[-1]
    return version, glibc


def wheelhouse(cache: str, release: str, arch: str, python: str, glibc: str) -> str:
    """Every pinned dependency as a binary wheel for the target interpreter, downloaded once."""
    with open(REQUIREMENTS, "rb") as f:
        key = hashlib.sha256(f.read() + f"{python} {glibc} {arch}".encode()).hexdigest()[:12]
    directory = os.path.join(cache, f"{release}-{arch}", f"wheelhouse-{key}")
    if os.path.exists(os.path.join(directory, ".complete")):
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    machine = {"amd64": "x86_64", "arm64": "aarch64"}[arch]
    major, minor = glibc.split(".")[:2]
    print(f"* wheels for CPython {python}, glibc {glibc} ({os.path.relpath(directory)})", flush=True)
    # --only-binary: nothing is compiled here against this machine's Python; the wheels' own
    # manylinux tags say which glibc they need (checked against the root's below).
    # pip does not widen an explicit --platform to older manylinux levels: name each one.
    platforms = [f"manylinux_{major}_{m}_{machine}" for m in range(int(minor), 4, -1)]
    platforms += [f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}"]
    run(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        *(arg for platform in platforms for arg in ("--platform", platform)), "--python-version", python,
        "--implementation", "cp", "--dest", directory, "-r", REQUIREMENTS)
    open(os.path.join(directory, ".complete"), "w").close()
    _prune(os.path.dirname(directory), "wheelhouse-", keep=os.path.basename(directory))
    return directory


def needed_glibc(wheels: list[str]) -> str:
    """The highest glibc any wheel needs (each wheel needs the lowest of its own manylinux tags)."""
    needed = (2, 17)
    for name in wheels:
        tags = [(int(a), int(b)) for a, b in re.findall(r"manylinux_(\d+)_(\d+)", name)]
        tags += [(2, 17)] * ("manylinux2014" in name) + [(2, 5)] * ("manylinux1" in name)
        if tags:
            needed = max(needed, min(tags))
    return f"{needed[0]}.{needed[1]}"


def wheel_version(wheel: str) -> str:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        version: str = email.parser.BytesParser().parsebytes(z.read(meta))["Version"]
    return version


def build_venv(root: str, wheels: str, wheel: str) -> None:
    """/opt/stoad inside the root, by the root's python3, from the wheels alone (no index)."""
    inside = os.path.join(root, "tmp", "wheelhouse")
    shutil.copytree(wheels, inside)
    shutil.copy(wheel, inside)
    shutil.copy(REQUIREMENTS, inside)
    run("chroot", root, "python3", "-m", "venv", "/opt/stoad")
    run("chroot", root, "/opt/stoad/bin/pip", "install", "--quiet", "--no-index", "--no-cache-dir",
        "--find-links", "/tmp/wheelhouse", "--require-virtualenv", "-r", "/tmp/wheelhouse/requirements.txt",
        os.path.join("/tmp/wheelhouse", os.path.basename(wheel)))
    # setuptools (from ensurepip) is not used at run time; pip stays for `pip list`/`pip check`.
    run("chroot", root, "/opt/stoad/bin/pip", "uninstall", "--quiet", "--yes", "setuptools")
    run("chroot", root, "/opt/stoad/bin/pip", "check")
    # Twisted's plugin cache, written now so that a read-only /opt (ProtectSystem=strict) never
    # needs it rewritten: dpkg keeps the archive's mtimes, so it stays newer than the plugins.
    run("chroot", root, "/opt/stoad/bin/python", "-c",
        "from twisted.plugin import IPlugin, getPlugins; from twisted import plugins; "
        "assert 'stoad' in {p.tapname for p in getPlugins(IPlugin, plugins) if hasattr(p, 'tapname')}")
    shutil.rmtree(inside)


def stage(package: str, root: str) -> None:
    """The package's files under `package` (dh's debian/<package>/ layout)."""
    shutil.copytree(os.path.join(root, "opt", "stoad"), os.path.join(package, "opt", "stoad"), symlinks=True)
    units = os.path.join(package, "lib", "systemd", "system")
    os.makedirs(units)
    for unit in ("stoad.service", "stoad.socket"):
        shutil.copy(os.path.join(REPO, "systemd", unit), units)
    sysusers = os.path.join(package, "usr", "lib", "sysusers.d")
    os.makedirs(sysusers)
    shutil.copy(os.path.join(DEBIAN, "stoad.sysusers"), os.path.join(sysusers, "stoad.conf"))
    os.makedirs(os.path.join(package, "usr", "bin"))
    os.symlink("/opt/stoad/bin/stoad", os.path.join(package, "usr", "bin", "stoad"))
    docs = os.path.join(package, "usr", "share", "doc", "stoad")
    os.makedirs(docs)
    for name in ("README.md",):
        shutil.copy(os.path.join(REPO, name), docs)
    shutil.copy(os.path.join(DEBIAN, "copyright"), docs)
    # The example configuration without any key material (a checkout's etc/stoad/pki is the demo's).
    example = os.path.join(REPO, "etc", "stoad")
    shutil.copytree(example, os.path.join(package, "etc", "stoad"),
                    ignore=lambda d, names: ["pki"] if os.path.samefile(d, example) else [])
    # Nothing in the package is writable by group or others, whatever this checkout's umask was.
    for directory, _, files in os.walk(package):
        for path in [directory] + [os.path.join(directory, name) for name in files]:
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode & ~0o022)


def control_files(package: str, version: str, arch: str, depends: str) -> None:
    control = os.path.join(package, "DEBIAN")
    os.makedirs(control)
    conffiles = sorted("/" + os.path.relpath(os.path.join(d, n), package)
                       for d, _, names in os.walk(os.path.join(package, "etc")) for n in names)
    with open(os.path.join(control, "conffiles"), "w", encoding="utf-8") as f:
        f.writelines(f"{name}\n" for name in conffiles)
    sums = []
    size = 0
    for directory, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if not (directory == package and d == "DEBIAN"))
        for name in sorted(files):
            path = os.path.join(directory, name)
            size += os.lstat(path).st_size
            if not os.path.islink(path):
                with open(path, "rb") as f:
                    sums.append(f"{hashlib.md5(f.read()).hexdigest()}  {os.path.relpath(path, package)}\n")
    with open(os.path.join(control, "md5sums"), "w", encoding="utf-8") as f:
        f.writelines(sums)
    with open(os.path.join(DEBIAN, "control.in"), encoding="utf-8") as f:
        text = f.read()
    for key, value in {"VERSION": version, "ARCH": arch, "INSTALLED_SIZE": str(size // 1024 + 1),
                       "DEPENDS": depends}.items():
        text = text.replace(f"@{key}@", value)
    with open(os.path.join(control, "control"), "w", encoding="utf-8") as f:
        f.write(text)
    for script in ("postinst", "prerm", "postrm"):
        shutil.copy(os.path.join(DEBIAN, script), control)
        os.chmod(os.path.join(control, script), 0o755)


def build(args: argparse.Namespace) -> None:
    arch = run("dpkg", "--print-architecture").strip()
    release = args.release or host_release()
    version = f"{wheel_version(args.wheel)}-{DEB_REVISION}"
    output = os.path.join(args.out, f"stoad_{version}_{arch}.deb")
    tarball = base_root(args.cache, release, arch)
    os.makedirs(args.cache, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.cache) as work:
        root = os.path.join(work, "root")
        extract_root(tarball, root)
        python, glibc = target_python(root)
        wheels = wheelhouse(args.cache, release, arch, python, glibc)
        needs = needed_glibc(os.listdir(wheels))
        if tuple(map(int, needs.split("."))) > tuple(map(int, glibc.split("."))):
            raise SystemExit(f"the wheels need glibc {needs}, {release} has {glibc}")
        build_venv(root, wheels, args.wheel)
        interpreter = run("chroot", root, "dpkg-query", "-W", "-f", "${Version}", f"python{python}").strip()
        depends = ", ".join((f"python{python} (>= {interpreter.split('-')[0]})", f"libc6 (>= {needs})", *DEPENDS))
        package = os.path.join(work, "stoad")
        stage(package, root)
        control_files(package, version, arch, depends)
        os.makedirs(args.out, exist_ok=True)
        run("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", package, output + ".part")
    os.replace(output + ".part", output)
    print(output)


def make_root(args: argparse.Namespace) -> None:
    arch = run("dpkg", "--print-architecture").strip()
    extract_root(base_root(args.cache, args.release or host_release(), arch), args.dest)


def lock(args: argparse.Namespace) -> None:
    """contrib/deb/requirements.txt from pip's resolution report (`make requirements-lock`)."""
    import json

    with open(args.report, encoding="utf-8") as f:
        report = json.load(f)
    pins = sorted((item["metadata"]["name"], item["metadata"]["version"]) for item in report["install"]
                  if item["metadata"]["name"] != "stoad")
    with open(args.out, encoding="utf-8") as f:
        header = [line for line in f if line.startswith("#")]
    with open(args.out, "w", encoding="utf-8") as f:
        f.writelines(header)
        f.writelines(f"{name}=={version}\n" for name, version in sorted(pins, key=lambda p: p[0].lower()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(required=True)
    b = sub.add_parser("build", help="build dist/stoad_VERSION-1_ARCH.deb")
    b.add_argument("--wheel", required=True)
    b.add_argument("--out", required=True)
    b.set_defaults(func=build)
    r = sub.add_parser("root", help="extract a fresh copy of the cached base root into DEST")
    r.add_argument("dest")
    r.set_defaults(func=make_root)
    lk = sub.add_parser("lock", help="write requirements.txt from a pip --report")
    lk.add_argument("--report", required=True)
    lk.add_argument("--out", required=True)
    lk.set_defaults(func=lock)
    for p in (b, r):
        p.add_argument("--cache", required=True)
        p.add_argument("--release", help="Debian release (default: this machine's)")
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
