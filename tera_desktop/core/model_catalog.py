"""The model catalog: the models Tera knows (LLMs, embedding models, speech), their files with
pinned revisions, sizes and checksums, and where an installed one lives on disk.

Revisions in ``CATALOG`` are pinned commits, so a re-upload on the hub cannot make a verified
download fail its checksum. The sha256 and size of each weights file (.gguf, .onnx) is its
published Git LFS pointer at that revision; the small JSON files are plain git files with no
published sha256, so theirs come from independent public manifests that pin the same revision
and agree with each other (see the project notes for the sources).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tera_desktop.core.errors import (
    ModelMissingError,
    NotFoundError,
)
from tera_desktop.core.paths import Paths

HUB_URL_ENV = "TERA_HUB_URL"
DEFAULT_HUB_URL = "https://huggingface.co"

KIND_LLM = "llm"
KIND_EMBEDDING = "embedding"
KIND_SPEECH = "speech"  # a faster-whisper (CTranslate2) folder: model.bin + tokenizer + config

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelFile:
    name: str  # path inside the repo
    size: int  # bytes; 0 when not published (then only presence is checked)
    sha256: str | None  # published LFS sha256; None when not published


@dataclass(frozen=True)
class CatalogModel:
    name: str  # catalog key, e.g. "dolphin-2.6-phi-2", "BAAI/bge-small-en-v1.5"
    kind: str  # "llm" | "embedding" | "speech"
    repo: str  # hub repo id
    files: tuple[ModelFile, ...]
    revision: str = "main"
    description: str = ""
    license: str = ""
    # llm only
    context_length: int = 2048
    chat_format: str = ""  # llama-cpp-python chat_format; "" = the chat template inside the GGUF
    # A hybrid reasoning model (Qwen3) whose answers must not think first: render its chat
    # template with ``template_kwargs`` ({"enable_thinking": False}), which ends the generation
    # prompt with an empty "<think>\n\n</think>\n\n" block, so the model answers at once.
    no_think: bool = False
    # embedding only
    dim: int = 0
    pooling: str = "mean"  # "cls" | "mean"
    normalize: bool = True
    query_prefix: str = ""
    min_score: float = 0.0  # cosine below this = "not relevant" for that model
    model_file: str = ""  # the .onnx file among files

    def __post_init__(self) -> None:
        if self.kind not in (KIND_LLM, KIND_EMBEDDING, KIND_SPEECH):
            raise ValueError(f"kind must be 'llm', 'embedding' or 'speech', not {self.kind!r}")
        if not self.files:
            raise ValueError(f"{self.name}: a model needs at least one file")
        names = [f.name for f in self.files]
        if self.kind == KIND_LLM and sum(n.lower().endswith(".gguf") for n in names) != 1:
            raise ValueError(f"{self.name}: an llm needs exactly one .gguf file")
        if self.kind == KIND_EMBEDDING:
            if self.pooling not in ("cls", "mean"):
                raise ValueError(f"{self.name}: pooling must be 'cls' or 'mean'")
            if self.model_file not in names:
                raise ValueError(f"{self.name}: model_file {self.model_file!r} is not in files")
        if self.kind == KIND_SPEECH and "model.bin" not in names:
            raise ValueError(f"{self.name}: a speech model needs its model.bin")

    @property
    def size(self) -> int:
        """Bytes of all its files (those with a known size)."""
        return sum(max(f.size, 0) for f in self.files)

    @property
    def gguf_file(self) -> str:
        """The .gguf among ``files`` (llm only; "" for an embedding model)."""
        return next((f.name for f in self.files if f.name.lower().endswith(".gguf")), "")

    @property
    def template_kwargs(self) -> dict[str, Any]:
        """Extra variables to render this model's chat template with (Jinja, as transformers's
        ``apply_chat_template(..., **kwargs)``); empty for a model that needs none."""
        return {"enable_thinking": False} if self.no_think else {}


@dataclass(frozen=True)
class DownloadProgress:
    model: str
    file: str  # the file being fetched
    done: int  # bytes of the whole model on disk so far (installed files + this one so far)
    total: int  # bytes of the whole model
    bytes_per_s: float  # average network speed in this download() call
    eta_s: float | None  # None until a speed is known


def _llm(
    name: str,
    repo: str,
    revision: str,
    filename: str,
    size: int,
    sha256: str,
    **kw: Any,
) -> CatalogModel:
    return CatalogModel(
        name=name,
        kind=KIND_LLM,
        repo=repo,
        revision=revision,
        files=(ModelFile(filename, size, sha256),),
        **kw,
    )


_BGE_QUERY_PREFIX = "Represent this sentence for searching relevant passages: "

_MODELS = (
    # --- language models (GGUF, Q4_K_M) ---
    _llm(
        "dolphin-2.6-phi-2",
        "TheBloke/dolphin-2_6-phi-2-GGUF",
        "67d05979dad539ecb02ce8ea17565c232a2e316d",
        "dolphin-2_6-phi-2.Q4_K_M.gguf",
        1_789_240_608,
        "556ed75d68896499ef73ea77dcb30af0e9d302088b34ca9d401872f60188d1e0",
        description="Dolphin 2.6 Phi-2 (2.7B), Q4_K_M, ChatML. The default: fast on a laptop CPU.",
        license="microsoft-research-license",
        context_length=2048,
        chat_format="chatml",
    ),
    _llm(
        "qwen3-1.7b",
        "unsloth/Qwen3-1.7B-GGUF",
        "d7f544eead698dbd1f15126ef60b45a1e1933222",
        "Qwen3-1.7B-Q4_K_M.gguf",
        1_107_409_472,
        "b139949c5bd74937ad8ed8c8cf3d9ffb1e99c866c823204dc42c0d91fa181897",
        description=(
            "Qwen3 1.7B Instruct, Q4_K_M, thinking off. Answers faster than Phi-2 and stays "
            "close to its sources (well grounded); multilingual."
        ),
        license="apache-2.0",
        context_length=32768,
        no_think=True,  # its own template (in the GGUF) with enable_thinking=False
    ),
    _llm(
        "llama-3.2-1b-instruct",
        "bartowski/Llama-3.2-1B-Instruct-GGUF",
        "421677676671db8d33e216c039ed1b7e31b5d711",
        "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        807_694_464,
        "6f85a640a97cf2bf5b8e764087b1e83da0fdb51d7c9fab7d0fece9385611df83",
        description="Llama 3.2 1B Instruct, Q4_K_M. The smallest and fastest choice.",
        license="llama3.2",
        context_length=131072,
    ),
    _llm(
        "llama-3.2-3b-instruct",
        "bartowski/Llama-3.2-3B-Instruct-GGUF",
        "21cf8ea4e3e4dfbd1f6ddcc715475a8ee5f9e13a",
        "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
        2_019_377_696,
        "6c1a2b41161032677be168d354123594c0e6e67d2b9227c84f296ad037c728ff",
        description="Llama 3.2 3B Instruct, Q4_K_M. Better answers, about half the speed.",
        license="llama3.2",
        context_length=131072,
    ),
    # --- embedding models (ONNX, as FastEmbed packages them) ---
    CatalogModel(
        name="BAAI/bge-small-en-v1.5",
        kind=KIND_EMBEDDING,
        repo="Qdrant/bge-small-en-v1.5-onnx-Q",
        revision="52398278842ec682c6f32300af41344b1c0b0bb2",
        files=(
            ModelFile(
                "model_optimized.onnx",
                66_465_124,
                "51f1bd0addd6e859e42c2c8021a5e5461385bb676a649f4b269aa445449f2431",
            ),
            ModelFile(
                "tokenizer.json",
                711_396,
                "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66",
            ),
            ModelFile(
                "config.json",
                706,
                "13582bcf2effc85b7bf3d3f5532e686bc1c9ce86bb009d10f0ec33cbe92299dd",
            ),
            ModelFile(
                "special_tokens_map.json",
                695,
                "5d5b662e421ea9fac075174bb0688ee0d9431699900b90662acd44b2a350503a",
            ),
            ModelFile(
                "tokenizer_config.json",
                1_242,
                "0b29c7bfc889e53b36d9dd3e686dd4300f6525110eaa98c76a5dafceb2029f53",
            ),
        ),
        description="BGE small English v1.5 (384-d), int8 ONNX. CLS pooling, query instruction.",
        license="mit",
        dim=384,
        pooling="cls",
        normalize=True,
        query_prefix=_BGE_QUERY_PREFIX,
        min_score=0.6,
        model_file="model_optimized.onnx",
    ),
    CatalogModel(
        name="sentence-transformers/all-MiniLM-L6-v2",
        kind=KIND_EMBEDDING,
        repo="Qdrant/all-MiniLM-L6-v2-onnx",
        revision="5f1b8cd78bc4fb444dd171e59b18f3a3af89a079",
        files=(
            ModelFile(
                "model.onnx",
                90_387_630,
                "bbd7b466f6d58e646fdc2bd5fd67b2f5e93c0b687011bd4548c420f7bd46f0c5",
            ),
            ModelFile(
                "tokenizer.json",
                711_661,
                "da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0",
            ),
            ModelFile(
                "config.json",
                650,
                "1b4d8e2a3988377ed8b519a31d8d31025a25f1c5f8606998e8014111438efcd7",
            ),
            ModelFile(
                "special_tokens_map.json",
                695,
                "5d5b662e421ea9fac075174bb0688ee0d9431699900b90662acd44b2a350503a",
            ),
            ModelFile(
                "tokenizer_config.json",
                1_433,
                "bd2e06a5b20fd1b13ca988bedc8763d332d242381b4fbc98f8fead4524158f79",
            ),
        ),
        description="all-MiniLM-L6-v2 (384-d), fp32 ONNX. Mean pooling; fast and small.",
        license="apache-2.0",
        dim=384,
        pooling="mean",
        normalize=True,
        min_score=0.25,
        model_file="model.onnx",
    ),
    # --- speech-to-text (faster-whisper: CTranslate2 conversions of OpenAI Whisper, int8 at load)
    CatalogModel(
        name="whisper-base",
        kind=KIND_SPEECH,
        repo="Systran/faster-whisper-base",
        revision="ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66",
        files=(
            ModelFile(
                "model.bin",
                145_217_532,
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            ),
            ModelFile(
                "config.json",
                2_309,
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            ),
            ModelFile(
                "tokenizer.json",
                2_203_239,
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            ),
            ModelFile(
                "vocabulary.txt",
                459_861,
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
            ),
        ),
        description="Whisper base (74M), multilingual. The default: ~10x real time on 2 cores.",
        license="mit",
    ),
    CatalogModel(
        name="whisper-small",
        kind=KIND_SPEECH,
        repo="Systran/faster-whisper-small",
        revision="536b0662742c02347bc0e980a01041f333bce120",
        files=(
            ModelFile(
                "model.bin",
                483_546_902,
                "3e305921506d8872816023e4c273e75d2419fb89b24da97b4fe7bce14170d671",
            ),
            ModelFile(
                "config.json",
                2_370,
                "b55496ac7940a7ae47d2c01eab40edfd8701feec1229d9cce3b40014383fb828",
            ),
            ModelFile(
                "tokenizer.json",
                2_203_239,
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            ),
            ModelFile(
                "vocabulary.txt",
                459_861,
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
            ),
        ),
        description="Whisper small (244M), multilingual. Fewer mistakes, about 3x slower.",
        license="mit",
    ),
)

CATALOG: dict[str, CatalogModel] = {m.name: m for m in _MODELS}


def get_model(name: str) -> CatalogModel:
    """The catalog entry called ``name``; NotFoundError lists the known names."""
    try:
        return CATALOG[name]
    except KeyError:
        known = ", ".join(sorted(CATALOG))
        raise NotFoundError(f"Unknown model '{name}'.", hint=f"Known models: {known}.") from None


def model_dir(paths: Paths, model: CatalogModel) -> Path:
    """Where the model's files live: one flat folder for every GGUF, one folder per embedding or
    speech model."""
    if model.kind == KIND_LLM:
        return paths.llm_models
    if model.kind == KIND_SPEECH:
        return paths.models / "speech" / model.name.replace("/", "--")
    return paths.embedding_models / model.name.replace("/", "--")


def _file_installed(path: Path, file: ModelFile) -> bool:
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if not path.is_file():
        return False
    return size == file.size if file.size > 0 else size > 0


def installed_path(paths: Paths, model: CatalogModel) -> Path | None:
    """The .gguf (llm) or the folder (embedding) if every file is there with its size, else None.

    Sizes only: hashing gigabytes on every call would be too slow; ``download`` verified them.
    """
    folder = model_dir(paths, model)
    if not all(_file_installed(folder / f.name, f) for f in model.files):
        return None
    return folder / model.gguf_file if model.kind == KIND_LLM else folder


def require_installed(paths: Paths, model: CatalogModel) -> Path:
    """``installed_path`` or a ModelMissingError that says how to get the model."""
    found = installed_path(paths, model)
    if found is None:
        raise ModelMissingError(
            f"The model {model.name} is not installed.",
            hint=f"Download it in Tera, or put its files in {model_dir(paths, model)}.",
        )
    return found
