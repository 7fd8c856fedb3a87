"""What the bot knows about chats and people, independent of Telegram's transport."""
