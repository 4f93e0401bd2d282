"""A hand-written card using every widget of google.apps.card.v1, for the renderer's own test.

It follows Google's card reference; `test_sample_card_is_a_valid_google_card`
checks it parses into `google.apps.card.v1.Card`, so the renderer is judged
against what Google accepts, not against our own guess.
"""

ACTION_URL = "http://127.0.0.1:8080/addon/action/sample"


def action(name: str) -> dict:
    return {"action": {"function": ACTION_URL, "parameters": [{"key": "step", "value": name}]}}


EVERY_WIDGET_CARD = {
    "name": "sample",
    "header": {"title": "Jane Doe", "subtitle": "VP Sales · Acme", "imageType": "CIRCLE",
               "imageUrl": "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "imageAltText": "avatar"},
    "sections": [
        {"header": "Contact", "widgets": [
            {"decoratedText": {"topLabel": "Email", "text": "<b>jane@acme.co.uk</b>",
                               "startIcon": {"knownIcon": "EMAIL"}, "bottomLabel": "work", "wrapText": True,
                               "button": {"text": "Copy", "onClick": action("copy")}}},
            {"decoratedText": {"text": "Follow", "startIcon": {"materialIcon": {"name": "star"}},
                               "switchControl": {"name": "follow", "value": "yes", "selected": True,
                                                 "controlType": "SWITCH"}}},
            {"textParagraph": {"text": "Met at <i>SaaStr</i>\nprefers <font color=\"#d93025\">email</font>, "
                                       "<a href=\"https://acme.co.uk\">site</a>"}},
            {"divider": {}},
            {"buttonList": {"buttons": [
                {"text": "Add note", "onClick": action("note"), "type": "FILLED"},
                {"text": "Log call", "icon": {"knownIcon": "PHONE"}, "onClick": action("call")},
                {"text": "Disabled", "disabled": True, "onClick": action("never")},
            ]}},
        ]},
        {"header": "Timeline", "collapsible": True, "uncollapsibleWidgetsCount": 1, "widgets": [
            {"decoratedText": {"topLabel": "Email · 3 days ago", "text": "Pricing for Acme"}},
            {"decoratedText": {"topLabel": "Meeting · last week", "text": "Demo"}},
            {"decoratedText": {"topLabel": "Note", "text": "Wants a discount"}},
        ]},
        {"header": "Edit", "widgets": [
            {"textInput": {"name": "note", "label": "Note", "type": "MULTIPLE_LINE",
                           "hintText": "Up to 2,000 characters"}},
            {"textInput": {"name": "title", "label": "Title", "value": "VP Sales",
                           "initialSuggestions": {"items": [{"text": "CTO"}, {"text": "CFO"}]}}},
            {"selectionInput": {"name": "stage", "label": "Lifecycle stage", "type": "DROPDOWN", "items": [
                {"text": "Lead", "value": "lead", "selected": False},
                {"text": "Customer", "value": "customer", "selected": True}]}},
            {"selectionInput": {"name": "tags", "label": "Tags", "type": "CHECK_BOX", "items": [
                {"text": "vip", "value": "vip", "selected": True}, {"text": "partner", "value": "partner"}]}},
            {"selectionInput": {"name": "owner", "label": "Owner", "type": "RADIO_BUTTON", "items": [
                {"text": "Me", "value": "me", "selected": True}, {"text": "Alex", "value": "alex"}]}},
            {"selectionInput": {"name": "notify", "type": "SWITCH", "items": [
                {"text": "Notify owner", "value": "1", "selected": False}]}},
            {"selectionInput": {"name": "segments", "label": "Segments", "type": "MULTI_SELECT", "items": [
                {"text": "EMEA", "value": "emea", "selected": True}, {"text": "APAC", "value": "apac"}]}},
            {"dateTimePicker": {"name": "follow_up", "label": "Follow up", "type": "DATE_ONLY",
                                "valueMsEpoch": "1767225600000"}},
        ]},
        {"widgets": [
            {"grid": {"title": "Also in touch", "columnCount": 2, "items": [
                {"id": "alex", "title": "Alex", "subtitle": "2 days ago"},
                {"id": "sam", "title": "Sam", "subtitle": "last month"}], "onClick": action("teammate")}},
            {"columns": {"columnItems": [
                {"horizontalSizeStyle": "FILL_AVAILABLE_SPACE",
                 "widgets": [{"decoratedText": {"topLabel": "Emails in", "text": "12"}}]},
                {"horizontalSizeStyle": "FILL_AVAILABLE_SPACE",
                 "widgets": [{"decoratedText": {"topLabel": "Emails out", "text": "9"}}]}]}},
            {"chipList": {"chips": [{"label": "vip", "onClick": action("chip")}]}},
            {"image": {"imageUrl": "data:image/gif;base64,R0lGODlhAQABAAAAACw=", "altText": "logo"}},
        ]},
    ],
    "fixedFooter": {"primaryButton": {"text": "Save", "onClick": action("save")},
                    "secondaryButton": {"text": "Cancel", "onClick": action("cancel")}},
}

# Keys the renderer must recognise, one per widget type used above.
WIDGET_TYPES = ("textParagraph", "decoratedText", "buttonList", "textInput", "selectionInput", "dateTimePicker",
                "divider", "grid", "columns", "chipList", "image")
