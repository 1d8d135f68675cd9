# Simplified Chinese formats over Django's (django/conf/locale/zh_Hans/formats.py): the currency
# sign before the amount, dates "2026年12月3日".
CRM_MONEY_FORMAT = "{symbol}{amount}"
CRM_DAY_FORMAT = "{year}年{month_number}月{day}日"
CRM_DAY_THIS_YEAR_FORMAT = "{month_number}月{day}日"
CRM_DAY_TIME_FORMAT = "{date} {time}"
CRM_MONTHS_SHORT = [f"{n}月" for n in range(1, 13)]
# Django's zh_Hans groups by four with an empty separator ("1234567.89"): business Chinese writes
# amounts with Western thousands commas (¥1,234,567.89).
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
