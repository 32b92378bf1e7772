"""Multipart uploads spooled to the upload directory as they arrive, without blocking the event
loop: each file part's file is opened, written and closed in worker threads, its data gathered
in memory in steps of `WRITE_STEP` between two writes."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import IO, Any

import trio
from quart.formparser import MultiPartParser
from quart.wrappers.request import Body
from quart_trio.formparser import TrioFormDataParser
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from veza.files import TMP_SUFFIX

# One thread hop per 256 KiB rather than one per piece the parser hands over (often 8-64 KiB).
WRITE_STEP = 256 * 1024


def spool_upload(directory: Path) -> IO[bytes]:
    """A file in the upload directory for one uploaded part (blocking: call it in a thread); a
    route may move it into place, and whatever is still there when the request ends is removed."""
    return tempfile.NamedTemporaryFile(
        dir=directory, prefix=".upload-", suffix=TMP_SUFFIX, delete=False
    )


class Spool:
    """One file part on its way to disk. The data gathers in memory up to `WRITE_STEP`, then
    goes to the file in a worker thread; the file is opened and closed in one too."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.path = Path(file.name)
        self._pending = bytearray()
        # SHA-256 of the part, computed as it is written (in the same thread call): an upload
        # of a file its owner already has is found without reading it again.
        self._digest = hashlib.sha256()

    @classmethod
    async def create(cls, directory: Path) -> Spool:
        return cls(await trio.to_thread.run_sync(spool_upload, directory))

    async def write(self, data: bytes) -> None:
        self._pending += data
        if len(self._pending) >= WRITE_STEP:
            await trio.to_thread.run_sync(self._write, self._take())

    def _write(self, data: bytearray) -> None:
        self.file.write(data)
        self._digest.update(data)

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of what was written: of the whole part once `finish` returned."""
        return self._digest.hexdigest()

    async def finish(self) -> IO[bytes]:
        """Write what is left and close the file: it is whole. The closed file is returned
        (its `name` is the path; closing it again does nothing)."""

        def write_and_close(rest: bytearray) -> None:
            with self.file:
                self._write(rest)

        await trio.to_thread.run_sync(write_and_close, self._take())
        return self.file

    def _take(self) -> bytearray:
        pending, self._pending = self._pending, bytearray()
        return pending


def content_hash_of(spools: Iterable[Spool], path: Path) -> str | None:
    """The SHA-256 of the spooled part at `path`, if it is one of `spools`."""
    return next((spool.content_hash for spool in spools if spool.path == path), None)


def remove_spools(spools: Iterable[Spool]) -> None:
    """Close and delete spooled parts (blocking: call it in a thread). A part a route has moved
    into place is gone from the upload directory already."""
    for spool in spools:
        with contextlib.suppress(OSError):  # a failed flush of a part being thrown away
            spool.file.close()
        spool.path.unlink(missing_ok=True)


class SpoolingFormDataParser(TrioFormDataParser):
    """Quart-Trio's form parser, except that the file parts of a multipart body are written by
    `SpoolingMultiPartParser` into spools that `open_spool` makes (and the request owns)."""

    def __init__(self, *, open_spool: Callable[[], Awaitable[Spool]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.open_spool = open_spool

    async def _parse_spooled(
        self, body: Body, mimetype: str, content_length: int | None, options: dict[str, str]
    ) -> tuple[MultiDict[str, Any], MultiDict[str, Any]]:
        # As Quart 0.22.0's FormDataParser._parse_multipart, with our part parser.
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        parser = SpoolingMultiPartParser(
            self.open_spool,
            cls=self.cls or MultiDict,
            file_storage_cls=self.file_storage_class,
            max_content_length=self.max_content_length,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
        )
        return await parser.parse(body, boundary, content_length or 0)

    parse_functions = {  # as in Quart, a class-level table
        **TrioFormDataParser.parse_functions,
        "multipart/form-data": _parse_spooled,  # type: ignore[dict-item]
    }


class SpoolingMultiPartParser(MultiPartParser):
    """Quart's multipart parser with its file writes awaited in worker threads."""

    def __init__(self, open_spool: Callable[[], Awaitable[Spool]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.open_spool = open_spool

    async def parse(
        self, body: Body, boundary: bytes, content_length: int
    ) -> tuple[MultiDict[str, Any], MultiDict[str, Any]]:
        # Mirrors Quart 0.22.0's MultiPartParser.parse, whose file parts are written with
        # synchronous calls on the event loop (`stream_factory` opens a file, `container.write`
        # for every piece, `container.seek(0)` flushes): Quart has no hook for the write alone,
        # so the loop is repeated here with each file step awaited on a Spool instead. Text
        # fields are handled as Quart does. The parts come back as Quart's do, except that a
        # file part's stream is its spool file, whole and closed.
        decoder = MultipartDecoder(boundary, self.max_content_length, max_parts=self.max_form_parts)
        fields: list[tuple[str, str]] = []
        files: list[tuple[str, Any]] = []
        part: Field | File | None = None
        text: list[bytes] = []
        text_size = 0
        spool: Spool | None = None
        async for data in body:
            decoder.receive_data(data)
            event = decoder.next_event()
            while not isinstance(event, (Epilogue, NeedData)):
                if isinstance(event, Field):
                    part, text, text_size, spool = event, [], 0, None
                elif isinstance(event, File):
                    part, spool = event, await self.open_spool()
                elif isinstance(event, Data) and isinstance(part, Field):
                    text_size += len(event.data)
                    limit = self.max_form_memory_size
                    if limit is not None and text_size > limit:
                        raise RequestEntityTooLarge()
                    text.append(event.data)
                    if not event.more_data:
                        charset = self.get_part_charset(part.headers)
                        fields.append((part.name, b"".join(text).decode(charset, "replace")))
                elif isinstance(event, Data) and isinstance(part, File) and spool is not None:
                    await spool.write(event.data)
                    if not event.more_data:
                        stream = await spool.finish()
                        storage = self.file_storage_cls(
                            stream, part.filename, part.name, headers=part.headers
                        )
                        files.append((part.name, storage))
                event = decoder.next_event()
        return self.cls(fields), self.cls(files)
