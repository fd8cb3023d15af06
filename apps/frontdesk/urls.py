from django.contrib.auth import views as auth_views
from django.urls import path

from . import views, wallet_views

app_name = "stores"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.StoreLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="stores:login"), name="logout"),
    path("choose-store/", views.choose_store, name="choose_store"),
    path("members/register/", views.member_register_view, name="member_register"),
    path("members/find/", views.member_find, name="member_find"),
    path("members/<str:code>/", views.member_detail, name="member_detail"),
    path("members/<str:code>/welcome/", views.member_welcome, name="member_welcome"),
    path("members/<str:code>/points-mall/", views.points_mall_exchange, name="points_mall"),
    path("members/<str:code>/wallet/recharge/", wallet_views.wallet_recharge_view, name="wallet_recharge"),
    path("coupons/redeem/", views.coupon_redeem_view, name="coupon_redeem"),
    path("sale/", views.sale, name="sale"),
    path("orders/<str:number>/", views.order_detail, name="order_detail"),
    path("vouchers/verify/", views.voucher_verify, name="voucher_verify"),
    path("stock/", views.stock, name="stock"),
    path("my-day/", views.my_day, name="my_day"),
]
