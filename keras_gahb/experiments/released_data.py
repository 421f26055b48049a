"""The authors' released denoisers on disk: where they are, which are there, read safely.

The authors' repository (LabForComputationalVision/memorization_generalization_in_diffusion_models,
its large files fetched with `git lfs`) keeps the UNet (RF 90) denoisers of the paper in

- `denoisers/UNet/img_align_celeba_80x80/0to255_RF_90x90_set_size_{N}/model.pt` (S1, the first
  N faces) and `..._set_size_{N}_swapped/model.pt` (S2, the last N), N = 1, 10, 100, 1,000,
  10,000, 99,325;
- `denoisers/UNet/C_alpha{A}_beta{A}_line_80x80_blurredx2/0to255_RF_90x90_set_size_100000/
  model.pt`, A = 1..5 (C^alpha images, 1e5 of them per alpha).

`find_released(path)` accepts the clone, its `denoisers` or `denoisers/UNet` folder, or any
folder holding that layout; `check_released` reads every file found without running code from
it (`keras_gahb.models.official_checkpoint`: `torch.load(weights_only=True)`), so a file whose
pickle carries code is refused before anything runs.
"""

import dataclasses
import os
import re

from keras_gahb.models.official_checkpoint import inspect_official_checkpoint

#: Training-set sizes of the released face denoisers (99,325: the largest N that fits twice).
RELEASED_NS = (1, 10, 100, 1000, 10000, 99325)
#: Regularities of the released C^alpha denoisers (alpha = beta).
RELEASED_ALPHAS = (1, 2, 3, 4, 5)
#: The face denoisers' folder (inside denoisers/UNet).
FACES_FOLDER = "img_align_celeba_80x80"
#: Training images of each released C^alpha denoiser.
CALPHA_SET_SIZE = 100000
#: The first line of a Git LFS pointer file (what a clone without `git lfs` holds).
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"


def face_model_path(unet_dir, n, swapped=False):
    """The path of the released face denoiser of N (S2 when `swapped`) inside `denoisers/UNet`."""
    name = f"0to255_RF_90x90_set_size_{int(n)}" + ("_swapped" if swapped else "")
    return os.path.join(unet_dir, FACES_FOLDER, name, "model.pt")


def calpha_model_path(unet_dir, alpha):
    """The path of the released C^alpha denoiser (alpha = beta) inside `denoisers/UNet`."""
    a = int(alpha)
    return os.path.join(unet_dir, f"C_alpha{a}_beta{a}_line_80x80_blurredx2",
                        f"0to255_RF_90x90_set_size_{CALPHA_SET_SIZE}", "model.pt")


@dataclasses.dataclass
class ReleasedModels:
    """The released denoisers found under one folder.

    Attributes:
        root: the folder given; unet_dir: the folder holding the layout (`denoisers/UNet`).
        faces: {N: {"s1": path or None, "s2": path or None}} for every released N.
        calpha: {alpha: path or None} for every released alpha.
    """

    root: str
    unet_dir: str
    faces: dict
    calpha: dict

    def found(self):
        """(label, path) of every model present, in the layout's order."""
        return [(label, path) for label, path in self._all() if path is not None]

    def missing(self):
        """(label, expected path) of every model absent."""
        return [(label, expected) for (label, path), expected in zip(self._all(), self._expected())
                if path is None]

    def face_pairs(self, n_values=None):
        """The N (of `n_values`, default all) with both S1 and S2 present."""
        return [n for n in (n_values or RELEASED_NS)
                if self.faces.get(n, {}).get("s1") and self.faces.get(n, {}).get("s2")]

    def alphas(self, alphas=None):
        """The alphas (of `alphas`, default all) whose C^alpha model is present."""
        return [a for a in (alphas or RELEASED_ALPHAS) if self.calpha.get(a)]

    def listing(self):
        """Lines naming every model found and every model missing."""
        found, missing = self.found(), self.missing()
        lines = [f"Released denoisers in {self.unet_dir}: {len(found)} found, "
                 f"{len(missing)} missing."]
        lines += [f"  found    {label}: {os.path.relpath(path, self.unet_dir)}"
                  for label, path in found]
        lines += [f"  missing  {label}: {os.path.relpath(path, self.unet_dir)}"
                  for label, path in missing]
        return lines

    def _labels(self):
        for n in RELEASED_NS:
            yield f"faces N={n:,} S1", n, False
            yield f"faces N={n:,} S2 (swapped)", n, True

    def _all(self):
        rows = [(label, self.faces[n]["s2" if swapped else "s1"])
                for label, n, swapped in self._labels()]
        return rows + [(f"C^alpha alpha={a}", self.calpha[a]) for a in RELEASED_ALPHAS]

    def _expected(self):
        rows = [face_model_path(self.unet_dir, n, swapped) for _, n, swapped in self._labels()]
        return rows + [calpha_model_path(self.unet_dir, a) for a in RELEASED_ALPHAS]


def find_released(path):
    """Find the authors' released denoisers under `path` (a clone or a folder of that layout).

    Args:
        path: the authors' repository clone, its `denoisers` or `denoisers/UNet` folder, or
            any folder holding `denoisers/UNet/...` or `img_align_celeba_80x80/...`.

    Returns:
        a `ReleasedModels` (models absent are None).

    Raises:
        FileNotFoundError: `path` is not a folder, or holds none of the released models.

    Example:

    >>> found = keras_gahb.experiments.find_released("memorization_generalization_in_diffusion_models")
    >>> print("\\n".join(found.listing()))
    """
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"{root} is not a folder. Pass the authors' repository clone (git clone "
            "https://github.com/LabForComputationalVision/memorization_generalization_in_diffusion_"
            "models; git lfs pull) or a folder with its denoisers/UNet layout.")
    candidates = [os.path.join(root, "denoisers", "UNet"), os.path.join(root, "UNet"), root]
    best = None
    for unet_dir in candidates:
        models = _scan(root, unet_dir)
        if models.found() and (best is None or len(models.found()) > len(best.found())):
            best = models
    if best is None:
        raise FileNotFoundError(
            f"{root} holds none of the authors' released denoisers (looked for "
            f"denoisers/UNet/{FACES_FOLDER}/0to255_RF_90x90_set_size_N[_swapped]/model.pt and "
            "denoisers/UNet/C_alphaA_betaA_line_80x80_blurredx2/0to255_RF_90x90_set_size_100000/"
            "model.pt). Pass the clone of the authors' repository (with git lfs pull).")
    return best


def check_released(models):
    """Read every file found, safely, before anything runs; return their descriptions.

    Each file is read with `torch.load(weights_only=True)` (never running code from it) and
    must be a UNet state dict (`inspect_official_checkpoint`). A Git LFS pointer (a clone made
    without `git lfs`) is named as such.

    Returns:
        {path: inspect_official_checkpoint(path)} for every model found.

    Raises:
        ValueError: one line naming the first file refused (code in its pickle, an LFS
            pointer, not a UNet, unreadable).
    """
    described = {}
    for label, path in models.found():
        if is_lfs_pointer(path):
            raise ValueError(
                f"{path} ({label}) is a Git LFS pointer, not the model: fetch the large files "
                "with `git lfs install && git lfs pull` in the clone.")
        try:
            info = inspect_official_checkpoint(path)
        except ValueError as error:
            raise ValueError(f"Refused {label}: {error}") from None
        if info["class"] != "BiasFreeUNet":
            raise ValueError(f"{path} ({label}) holds a {info['class']}, not the authors' UNet.")
        described[path] = info
    return described


def is_lfs_pointer(path):
    """Whether `path` is a Git LFS pointer file (text naming the large file) instead of it."""
    with open(path, "rb") as f:
        return f.read(len(LFS_POINTER)) == LFS_POINTER


def _scan(root, unet_dir):
    def present(path):
        return path if os.path.isfile(path) else None

    faces = {n: {"s1": present(face_model_path(unet_dir, n)),
                 "s2": present(face_model_path(unet_dir, n, swapped=True))} for n in RELEASED_NS}
    calpha = {a: present(calpha_model_path(unet_dir, a)) for a in RELEASED_ALPHAS}
    if os.path.isdir(unet_dir) and (not all(p for pair in faces.values() for p in pair.values())
                                    or not all(calpha.values())):
        _fill_from_names(unet_dir, faces, calpha)
    return ReleasedModels(root=root, unet_dir=unet_dir, faces=faces, calpha=calpha)


_FACE_FOLDER = re.compile(r"RF_90x90_set_size_(\d+)(_swapped)?$")
_CALPHA_FOLDER = re.compile(r"^C_alpha(\d+)_beta(\d+)")


def _fill_from_names(unet_dir, faces, calpha, max_depth=3):
    """Models absent at the exact paths, found by folder name (a renamed data folder): a face
    model is `<...celeb...>/<...>RF_90x90_set_size_N[_swapped]/model.pt`, a C^alpha model
    `C_alphaA_betaA<...>/<...>/model.pt`. Only `max_depth` levels below `unet_dir` are read."""
    base = unet_dir.rstrip(os.sep).count(os.sep)
    for folder, subfolders, files in os.walk(unet_dir):
        subfolders[:] = [d for d in sorted(subfolders) if not d.startswith(".")]
        if folder.count(os.sep) - base >= max_depth:
            subfolders[:] = []
        if "model.pt" not in files:
            continue
        path = os.path.join(folder, "model.pt")
        parent = os.path.basename(os.path.dirname(folder))
        face = _FACE_FOLDER.search(os.path.basename(folder))
        alpha = _CALPHA_FOLDER.match(parent)
        if alpha and alpha.group(1) == alpha.group(2) and int(alpha.group(1)) in calpha:
            calpha[int(alpha.group(1))] = calpha[int(alpha.group(1))] or path
        elif face and "celeb" in parent.lower() and int(face.group(1)) in faces:
            split = "s2" if face.group(2) else "s1"
            faces[int(face.group(1))][split] = faces[int(face.group(1))][split] or path
