"""The dev inbox: the messages the keeping backend kept, newest first. DEBUG only."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render

from .models import KeptMessage


def dev_inbox(request):
    if not settings.DEBUG:
        raise Http404
    return render(request, "notifications/dev_inbox.html", {"messages_kept": KeptMessage.objects.all()[:50]})
