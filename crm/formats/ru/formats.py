# Russian formats over Django's (django/conf/locale/ru/formats.py): money after the amount with
# its sign, short dates "3 дек. 2026".
CRM_MONEY_FORMAT = "{amount}\xa0{symbol}"
CRM_DAY_FORMAT = "{day} {month} {year}"
CRM_DAY_THIS_YEAR_FORMAT = "{day} {month}"
CRM_DAY_TIME_FORMAT = "{date}, {time}"
CRM_MONTHS_SHORT = ["янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.", "окт.", "нояб.", "дек."]
