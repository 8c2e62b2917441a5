"""Error answers of every API's handlers (services/common/app_factory.py), on a FastAPI app in process."""

from __future__ import annotations

import warnings
from typing import Annotated

from fastapi import FastAPI, File, Form, UploadFile

from services.common.app_factory import install_error_handlers


def client() -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things/{x}")
    def read(x: str) -> dict[str, str]:
        return {}

    @app.delete("/things/{x}")
    def forget(x: str) -> dict[str, str]:
        return {}

    @app.post("/things/{x}/files")
    async def upload(x: str, kind: Annotated[str, Form()], file: Annotated[UploadFile, File()]) -> dict[str, str]:
        return {}

    return TestClient(app)


def test_a_405_allows_every_method_of_the_path():
    r = client().put("/things/1")  # type: ignore[attr-defined]
    assert r.status_code == 405
    assert r.headers["allow"] == "DELETE, GET"
    assert client().post("/things/1/files/x").status_code == 404  # type: ignore[attr-defined]


def test_a_multipart_body_that_cannot_be_read_names_the_body():
    for content_type in ("multipart/form-data; boundary=xx", "multipart/form-data"):
        r = client().post("/things/1/files", content=b"garbage",  # type: ignore[attr-defined]
                          headers={"content-type": content_type})
        assert r.status_code == 400 and r.json()["field"] == "body", r.json()


def test_a_missing_multipart_part_is_named():
    r = client().post("/things/1/files", data={"kind": "a"})  # type: ignore[attr-defined]
    assert r.status_code == 422 and r.json()["field"] == "file"
