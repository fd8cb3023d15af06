"""``{% load money %}{{ amount|money }}``: money as people read it (apps.core.money.format_money)."""

from django import template

from apps.core.money import format_money

register = template.Library()


@register.filter(name="money")
def money(amount) -> str:
    return format_money(amount)
