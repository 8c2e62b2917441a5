"""The ceiling the services' HTTP figures are compared to: one endpoint that does nothing, served
the same way (uvicorn and its settings from infra.stack.api_argv)."""

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/cases", status_code=201)
    async def open_case() -> dict[str, str]:
        return {"case_id": "00000000-0000-0000-0000-000000000000"}

    return app
