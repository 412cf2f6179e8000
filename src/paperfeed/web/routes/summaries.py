"""`/about/summaries`: how the machine-written summaries are written, from the code itself.

The prompt shown is the constant the `summaries` job sends (papers/summaries.py), so the
page cannot drift from what the model is asked; paper pages link here beside each summary.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from paperfeed.papers import summaries
from paperfeed.search import key_sentence
from paperfeed.web.deps import SettingsDep
from paperfeed.web.responses import page

router = APIRouter(include_in_schema=False)


@router.get("/about/summaries")
def about_summaries(request: Request, settings: SettingsDep) -> Response:
    return page(
        request,
        "about_summaries.html",
        on=bool(settings.summary_api_url and settings.summary_model),
        model=settings.summary_model,
        prompt_version=summaries.PROMPT_VERSION,
        system_prompt=summaries.SYSTEM_PROMPT,
        user_prompt=summaries.user_prompt("{title}", "{abstract}"),
        max_tokens=summaries.MAX_TOKENS,
        daily_requests=settings.summary_daily_requests,
        daily_tokens=settings.summary_daily_tokens,
        min_sentences=key_sentence.MIN_SENTENCES,
        keyword_weight=key_sentence.KEYWORD_WEIGHT,
    )
