"""Tests of the app: pages under AppTest, a real browser, deployment."""
