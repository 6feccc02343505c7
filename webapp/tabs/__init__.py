"""One module per tab of the app; each has ``build(settings, ...)``, called inside ``gr.Blocks``."""
