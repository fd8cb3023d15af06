"""``{% load numbers %}{{ ratio|percent }}`` (13.8%) and ``{{ count|number }}`` (12,345): apps.core.numbers."""

from django import template

from apps.core.numbers import format_number, format_percent

register = template.Library()


@register.filter(name="percent")
def percent(ratio) -> str:
    return format_percent(ratio)


@register.filter(name="number")
def number(value, places: int = 0) -> str:
    return format_number(value, places=int(places))
