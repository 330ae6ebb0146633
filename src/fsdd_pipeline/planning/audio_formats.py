"""The audio file formats the project reads (through libsndfile), by file suffix and by the
format name libsndfile reports, and the hint a refused file gets.

People's recordings come from phones and browsers as well as from WAV recorders: OGG
(Vorbis, and Opus as voice notes are), MP3 and AIFF are read as WAV and FLAC are. AAC
(M4A/MP4), AMR, WebM and WMA have no decoder in libsndfile and are refused with a reason.
"""

# File suffixes of the audio a recordings folder, `fsdd-predict` and `fsdd-enroll` take. Kept
# in planning (constants only) because planning the workflow lists recordings by them.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc")
# Audio the project does not take: listed with the recordings so that such files are
# rejected with a reason instead of being ignored.
UNSUPPORTED_AUDIO_SUFFIXES = (
    ".aac", ".amr", ".au", ".caf", ".m4a", ".mp4", ".w64", ".webm", ".wma",
)  # fmt: skip
# What a folder of recordings is listed by: the audio read and the audio refused by name.
LISTED_SUFFIXES = AUDIO_SUFFIXES + UNSUPPORTED_AUDIO_SUFFIXES
# libsndfile's names of the formats read (RF64 and WAVEX are WAV's variants).
SUPPORTED_FORMATS = ("WAV", "WAVEX", "RF64", "FLAC", "OGG", "MP3", "AIFF")
SUPPORTED_TEXT = "WAV, FLAC, OGG (Vorbis or Opus), MP3 or AIFF"
# The media types of the audio read, for a browser's file picker beside AUDIO_SUFFIXES.
AUDIO_MEDIA_TYPES = (
    "audio/wav", "audio/x-wav", "audio/flac", "audio/ogg", "audio/opus", "audio/mpeg",
    "audio/aiff",
)  # fmt: skip
# What the page's file pickers offer (their `accept` attribute).
FILE_PICKER_ACCEPT = ",".join(AUDIO_SUFFIXES + AUDIO_MEDIA_TYPES)
CONVERT_HINT = f"convert to {SUPPORTED_TEXT}"
