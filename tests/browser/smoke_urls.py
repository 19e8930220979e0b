"""A page of ours with Chinese text, for the browser smoke test (rendered by Django's templates)."""

from django.http import HttpResponse
from django.template import engines
from django.urls import path

SMOKE_TEMPLATE = """<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1>
<p><span id="a" style="font-size:48px">{{ first }}</span> <span id="b" style="font-size:48px">{{ second }}</span></p>
</body></html>"""


def smoke_page(request):
    template = engines["django"].from_string(SMOKE_TEMPLATE)
    return HttpResponse(template.render({"title": "领取优惠券", "first": "领", "second": "券"}, request))


urlpatterns = [path("smoke/", smoke_page)]
