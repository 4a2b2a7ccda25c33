"""The Turing-test pages and their JSON API (enabled by ``tinct serve --study STUDY_DIR``)."""

from __future__ import annotations

import csv
import io
import re
import time
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from tinct.studies.turing import Study
from tinct.web.errors import ApiError, error_responses
from tinct.web.votes import DuplicateVote, Tally, UnknownSession, VoteStore

SCENE_LIST = re.compile(r"^[A-Za-z0-9_,-]*$")


class Vote(BaseModel):
    """A visitor's answer about one image."""

    item: str = Field(min_length=1, max_length=64, description="the id from /api/turing/next")
    answer: Literal["real", "colorized"]
    session: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                         description="the participant id from POST /api/turing/session")
    response_ms: int | None = Field(default=None, ge=0, le=3_600_000)


def turing_router(study: Study, store: VoteStore, page, feedback: bool = False) -> APIRouter:
    """Routes for ``study``; votes go to ``store``; ``page(name)`` serves a static page.

    ``feedback``: tell each participant after every answer what the image really was (a
    teaching setting; off for a real study, where it would train the participants as they go
    and let anyone scrape the truth item by item). Either way a participant who has answered
    for every scene can ask for their own score.
    """
    router = APIRouter()

    @router.post("/api/turing/session", tags=["turing"], summary="Join the study")
    def new_session() -> dict:
        """A new participant id (votes must carry one) and whether answers get feedback."""
        return {"session": store.new_session(study.study_id), "feedback": feedback,
                "scenes": len(study.scenes)}

    @router.get("/turing", include_in_schema=False)
    def turing_page() -> FileResponse:
        return page("turing.html")

    @router.get("/turing/results", include_in_schema=False)
    def results_page() -> FileResponse:
        return page("results.html")

    @router.get("/api/turing/next", tags=["turing"], summary="Next image to judge",
                responses=error_responses(422))
    def next_image(exclude: str = Query("", max_length=20_000,
                                        description="comma-separated scene ids already seen")
                   ) -> dict:
        """One image to judge, from a scene the visitor has not seen; `done` when none is left."""
        if not SCENE_LIST.match(exclude):
            raise ApiError(422, "exclude: comma-separated scene ids expected")
        item = study.pick(set(filter(None, exclude.split(","))))
        total = len(study.scenes)
        if item is None:
            return {"done": True, "scenes": total}
        return {"done": False, "item": item.id, "scene": item.scene, "scenes": total,
                "image": f"/api/turing/image/{item.id}"}

    @router.get("/api/turing/image/{item_id}", tags=["turing"], summary="A study image",
                response_class=FileResponse,
                responses={200: {"content": {"image/jpeg": {}}}, **error_responses(404)})
    def image(item_id: str) -> FileResponse:
        """The image of one study item (its URL tells nothing about what it is)."""
        item = study.items.get(item_id)
        if item is None:
            raise ApiError(404, "unknown study image (the server may have restarted; reload)")
        return FileResponse(item.path, media_type="image/jpeg",
                            headers={"Cache-Control": "private, max-age=3600"})

    @router.post("/api/turing/vote", tags=["turing"], summary="Record a vote",
                 responses=error_responses(403, 404, 409, 422))
    def vote(body: Vote) -> dict:
        """Records a vote (one per participant and scene); with feedback on, the answer also
        tells what the image really was."""
        item = study.items.get(body.item)
        if item is None:
            raise ApiError(404, "unknown study image (the server may have restarted; reload)")
        try:
            store.record(study=study.study_id, session=body.session, scene=item.scene,
                         model=item.model, answered_real=body.answer == "real",
                         response_ms=body.response_ms)
        except UnknownSession:
            raise ApiError(403, "unknown participant: reload the page to join the study"
                           ) from None
        except DuplicateVote:
            raise ApiError(409, "you have already answered for this photo") from None
        reply: dict = {"recorded": True}
        if feedback:
            truth = "real" if item.is_real else "colorized"
            reply.update(truth=truth, model=item.model, correct=body.answer == truth)
        return reply

    @router.get("/api/turing/score", tags=["turing"], summary="A participant's own score",
                responses=error_responses(409, 422))
    def score(session: str = Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
              ) -> dict:
        """How many of their answers were right, once the participant has answered for
        every scene (before that, 409: the score would tell which answers were right)."""
        votes, correct = store.score(study.study_id, session)
        if votes < len(study.scenes):
            raise ApiError(409, f"answer for all {len(study.scenes)} photos first "
                                f"({votes} so far)")
        return {"votes": votes, "correct": correct}

    @router.get("/api/turing/results", tags=["turing"], summary="Fooling rates")
    def results() -> dict:
        """Per model: how often its colorizations were taken for real (rate, 95% Wilson CI);
        `real`: the same for the real photos (the control); `photos`: the same per photo
        (the study's scene id and the photo's name; which image a participant saw stays
        unknown, so this cannot be used to look up answers)."""
        tallies = store.tallies(study.study_id)
        by_scene = store.scene_tallies(study.study_id)
        none = Tally(0, 0)
        return {
            "study": study.study_id,
            "scenes": len(study.scenes),
            "votes": sum(t.votes for t in tallies.values()),
            "real": tallies.get(None, none).as_dict(),
            "models": [{"model": m, **tallies.get(m, none).as_dict()} for m in study.models],
            "photos": [{"scene": scene, "photo": study.sources.get(scene, scene),
                        "real": by_scene.get((scene, None), none).as_dict(),
                        "models": {m: by_scene.get((scene, m), none).as_dict()
                                   for m in study.models}}
                       for scene in study.scenes],
        }

    @router.get("/api/turing/votes.csv", tags=["turing"], summary="Every vote, as CSV",
                response_class=Response,
                responses={200: {"content": {"text/csv": {}}}})
    def votes_csv() -> Response:
        """One row per vote: time (UTC), participant (a hash of the id), scene, photo,
        shown (``real`` or the model), answer, correct, response_ms."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["time_utc", "participant", "scene", "photo", "shown", "answer",
                         "correct", "response_ms"])
        for created, who, scene, model, answered_real, ms in store.export(study.study_id):
            writer.writerow([time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)), who,
                             scene, study.sources.get(scene, scene), model or "real",
                             "real" if answered_real else "colorized",
                             int(bool(answered_real) == (model is None)),
                             "" if ms is None else ms])
        name = f"turing-votes-{study.study_id}.csv"
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return router


def no_study_router(page) -> APIRouter:
    """``/turing`` and ``/turing/results`` when the server runs no study: a page saying how
    to start one (HTTP 404, since there is none)."""
    router = APIRouter()

    @router.get("/turing", include_in_schema=False)
    @router.get("/turing/results", include_in_schema=False)
    def how_to_start() -> FileResponse:
        response = page("no-study.html")
        response.status_code = 404
        return response

    return router
