"""The Telegram bot (`moe bot`): aiogram 3 over `MoEClient`, in one process with the model.

    handlers/   what each kind of update does (commands, chat messages)
    core/       who a conversation belongs to, when a group message addresses the bot
    services/   talking back: a reply streamed by edits, split at Telegram's 4,096 characters; answers from the SDK
    app.py      the Bot and Dispatcher, long polling
    standin.py  a local Bot API server with Telegram's semantics, for tests and `moe bench bot`
"""
