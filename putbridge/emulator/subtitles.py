"""Subtitles of a video: same-stem .srt files beside it ("folder"), plus one generated English
"opensubtitles" match for every video so subtitles always exist."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .files import FileRecord, FileTree
from .media import extension_of, sample_srt

MAX_SUBTITLE_BYTES = 4 * 1024 * 1024

# two-letter / three-letter code or English name -> (ISO 639-2/B code, English name)
_LANGUAGES = {
    "en": ("eng", "English"),
    "fr": ("fre", "French"),
    "de": ("ger", "German"),
    "es": ("spa", "Spanish"),
    "it": ("ita", "Italian"),
    "pt": ("por", "Portuguese"),
    "nl": ("dut", "Dutch"),
    "tr": ("tur", "Turkish"),
    "ru": ("rus", "Russian"),
    "ja": ("jpn", "Japanese"),
    "zh": ("chi", "Chinese"),
    "ko": ("kor", "Korean"),
    "sv": ("swe", "Swedish"),
    "pl": ("pol", "Polish"),
    "ar": ("ara", "Arabic"),
    "da": ("dan", "Danish"),
    "fi": ("fin", "Finnish"),
    "no": ("nor", "Norwegian"),
    "el": ("gre", "Greek"),
    "he": ("heb", "Hebrew"),
    "hu": ("hun", "Hungarian"),
    "cs": ("cze", "Czech"),
    "ro": ("rum", "Romanian"),
}
_BY_ALIAS: dict[str, tuple[str, str]] = {}
for _two, (_three, _english) in _LANGUAGES.items():
    for _alias in (_two, _three, _english.lower()):
        _BY_ALIAS[_alias] = (_three, _english)
_BY_ALIAS.update({"fra": _LANGUAGES["fr"], "deu": _LANGUAGES["de"], "nld": _LANGUAGES["nl"]})


@dataclass(frozen=True)
class Subtitle:
    key: str
    language: str
    language_code: str
    name: str
    source: str
    file_id: int | None  # the .srt file for source "folder"

    def to_dict(self, base: str, video_id: int) -> dict:
        return {
            "key": self.key,
            "language": self.language,
            "language_code": self.language_code,
            "name": self.name,
            "source": self.source,
            "format": "srt",
            "url": f"{base}v2/files/{video_id}/subtitles/{self.key}",
        }


def _key(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:24]


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0] if extension_of(name) else name


def language_of(tag: str) -> tuple[str, str]:
    """(code, name) for a tag like 'en', 'eng', 'English' or 'en.forced'; English if unknown."""
    for part in tag.lower().split("."):
        if part in _BY_ALIAS:
            return _BY_ALIAS[part]
    return _LANGUAGES["en"]


def subtitles_for(tree: FileTree, video: FileRecord) -> list[Subtitle]:
    """Folder subtitles first (the default), then the generated OpenSubtitles one."""
    stem = _stem(video.name)
    result: list[Subtitle] = []
    parent = tree.get(video.parent_id) if video.parent_id is not None else None
    if parent is not None and parent.children:
        for sibling_id in parent.children:
            sibling = tree.records[sibling_id]
            if sibling.is_folder or extension_of(sibling.name) != "srt":
                continue
            sibling_stem = sibling.name[:-4]
            if sibling_stem == stem:
                tag = ""
            elif sibling_stem.startswith(stem + "."):
                tag = sibling_stem[len(stem) + 1 :]
            else:
                continue
            code, language = language_of(tag)
            result.append(
                Subtitle(
                    _key("folder", sibling.id), language, code, sibling.name, "folder", sibling.id
                )
            )
    result.append(
        Subtitle(
            _key("opensubtitles", video.id, "eng"), "English", "eng", stem, "opensubtitles", None
        )
    )
    return result


def subtitle_text(tree: FileTree, video: FileRecord, subtitle: Subtitle) -> str:
    if subtitle.file_id is not None:
        rec = tree.get(subtitle.file_id)
        if rec is not None and rec.content is not None:
            data = rec.content.read(0, min(rec.content.size, MAX_SUBTITLE_BYTES))
            return data.decode("utf-8", errors="replace")
    return sample_srt(_stem(video.name)).decode()
