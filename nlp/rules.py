"""High-precision intent rules over the speech form: the first rule that matches wins, in the order
of `RULES` (short answers first, then the most specific requests, then the general ones).

A rule firing means "certainly this intent"; anything the rules do not cover goes to the embedding
classifier, which is broader but less sure.
"""

from __future__ import annotations

import re

from nlp.intent import IntentName

_ADDRESS_SAID = r"(?:0x[0-9a-z]{6,}|\b0 ?x (?:[0-9a-f]+ ?){6,})"
_FILE_SAID = r"\b[\w-]+\.[a-z][a-z0-9]{0,4}\b"

RULES: tuple[tuple[IntentName, tuple[str, ...]], ...] = (
    # Things that sound like our actions but are not ours to do (trading, other apps): never a
    # transfer, whatever the classifier would say.
    (
        IntentName.UNKNOWN,
        (
            r"\b(?:swap|exchange|convert|trade|bridge|stake|unstake|lend|borrow)\b.*\b(?:for|to|into|on)\b",
            r"\b(?:buy|sell|short|long) (?:me )?(?:some |\d+(?:\.\d+)? )?(?:0g|usdc|usdt|weth|dai|eth|btc|bitcoin|ethereum|tokens?|crypto|coins?)\b",
        ),
    ),
    (
        IntentName.CONFIRM,
        (
            r"^(?:yes|yeah|yea|yep|yup|yes please|sure|sure thing|ok|okay|alright|all right|fine|confirm|confirmed|"
            r"i confirm|correct|affirmative|absolutely|definitely|certainly|of course|please do|do it|do that|"
            r"go ahead|go for it|go on|send it|that is right|that is correct|right|exactly|sounds good|"
            r"looks good|let us do it|let us go|proceed|please proceed|approved|approve|i approve|make it so|"
            r"yes sir|aye|you bet|by all means|i agree|agreed)"
            r"(?: (?:please|yes|yeah|do it|go ahead|go|send it|send|confirm|confirmed|thanks|thank you|now|it|"
            r"that|that is right|correct|proceed|sure|i do|i am sure|let us do it|for it|do that|right))*$",
        ),
    ),
    (
        IntentName.CANCEL,
        (
            r"^(?:no|nope|nah|no no|no thanks|no thank you|cancel|cancel it|cancel that|stop|stop it|never mind|"
            r"nevermind|abort|forget it|forget about it|scratch that|do not do it|do not|don't|not now|"
            r"wait no|hold on no|no way|negative|decline|reject|wait|hold on|hang on|let us not|"
            r"i changed my mind|changed my mind|i have changed my mind|not that|do not send it|don't send it|"
            r"cancel please|please cancel|please stop|please don't|please do not)"
            r"(?: (?:please|that|it|the transfer|this|thanks|do not send it|stop|cancel|abort|no|never mind|forget it))*$",
            r"^(?:please )?(?:cancel|abort|stop) (?:the |that |this |my )?(?:transfer|transaction|payment|"
            r"request|upload)\b",
        ),
    ),
    (
        IntentName.REPEAT,
        (
            r"\b(?:say (?:that|it) again|repeat (?:that|it|yourself|the last|what you said)?|come again|"
            r"what did you (?:just )?say|one more time|i did not (?:catch|hear|get) (?:that|it)|"
            r"could you repeat|can you repeat|pardon)\b",
            r"^(?:repeat|pardon|sorry what|what|huh)$",
        ),
    ),
    (
        IntentName.REPLY_MODE,
        (
            r"\b(?:shorter|briefer|more concise|less detail|fewer details|keep (?:it|your answers|them) "
            r"(?:short|brief)|short answers|brief answers|more detail|more details|longer answers|"
            r"detailed answers|more detailed|less verbose|more verbose|be brief|be concise|be more brief|"
            r"be more concise|answer in detail|detailed mode|short mode|brief mode)\b",
        ),
    ),
    (
        IntentName.PERSONA,
        (
            r"\b(?:talk|speak|sound|answer|reply|respond) (?:to me )?like\b",
            r"\bpretend (?:to be|you are)\b",
            r"\b(?:act|behave) (?:like|as)\b",
            r"\bbe (?:more|less) (?:formal|casual|friendly|polite|funny|serious|cheerful|professional|playful)\b",
            r"\b(?:use|switch to) (?:a |an )?[a-z ]+ (?:voice|tone|persona|personality)\b",
            r"\bcall me\b",
        ),
    ),
    (
        IntentName.REMEMBER_CONTACT,
        (
            rf"\b(?:remember|save|store|add|note|record|set)\b.*{_ADDRESS_SAID}",
            rf"\b[a-z]+'s (?:address|wallet)(?: address)? is {_ADDRESS_SAID}",
            rf"\b[a-z]+ (?:is|has (?:the )?address|uses) {_ADDRESS_SAID}",
        ),
    ),
    (
        IntentName.RECALL,
        (
            r"\bwhat (?:do|did) you (?:know|remember)\b",
            r"\bwhat (?:is|was) [a-z]+'s (?:address|wallet)\b",
            r"\bwho is [a-z]+\b(?! (?:the|a)\b)",
            r"\bwhat did i (?:tell|ask) you\b",
            r"\bwhat do you have (?:on|about|for) [a-z]+\b",
            r"\bremind me (?:what|who)\b",
            r"\bdo you (?:remember|know) (?:who|what|my|anything)\b",
            r"\bwhat have you (?:saved|remembered|stored about)\b",
            r"\b(?:list|show|tell me) (?:my |all my )?contacts\b",
            r"\bwhat (?:is|are) my contacts\b",
        ),
    ),
    (
        IntentName.REMEMBER_FACT,
        (
            r"\bremember (?:that|this)\b",
            r"\bremember (?:i|my|i am|we|our)\b",
            r"\bkeep in mind\b",
            r"\bmental note\b",
            r"\b(?:do not|don't) forget that\b",
        ),
    ),
    (
        IntentName.STORE_NOTE,
        (
            r"\b(?:note|memo)s? (?:saying|that says|which says|reading|to say)\b",
            r"\b(?:write|jot|take|note|put) (?:this |it |that )?down\b",
            r"\bnote to self\b",
            r"\b(?:take|make|store|save|leave|add|create|write) (?:a |me a |myself a )?(?:quick |short |new )?(?:note|memo)\b",
        ),
    ),
    (
        IntentName.LIST_FILES,
        (
            r"\b(?:list|show|which|what) (?:me )?(?:all )?(?:of )?(?:my|the) (?:stored |uploaded |saved )?(?:files|notes|documents|uploads)\b",
            r"\bwhat (?:files|notes|documents) (?:do i have|have i (?:stored|uploaded|saved))\b",
            r"\bwhat (?:have i|did i) (?:stored|store|uploaded|upload|saved|save)\b",
            r"\bmy (?:files|uploads) (?:on 0g|list)\b",
        ),
    ),
    (
        IntentName.FETCH_FILE,
        (
            rf"\b(?:fetch|get|download|open|read|retrieve|load|pull|grab|bring|show)\b.*(?:{_FILE_SAID}|\b(?:file|note|document|memo)\b)",
        ),
    ),
    (
        IntentName.STORE_FILE,
        (
            rf"\b(?:store|save|upload|put|back ?up|keep|push|send)\b.*{_FILE_SAID}",
            r"\b(?:store|upload|save|back ?up) (?:the |this |my |a )?(?:file|document|photo|picture)\b",
        ),
    ),
    (
        IntentName.TX_STATUS,
        (
            r"\b0x[0-9a-f]{64}\b",
            r"\b(?:last|latest|previous|recent|most recent) (?:transaction|transfer|payment)\b",
            r"\btransaction (?:status|go through|went through|confirmed|succeed|fail|pending)\b",
            r"\b(?:did|has|is) (?:my |the |that )(?:transaction|transfer|payment) (?:go|gone|went|been|get|confirm|succeed|fail|land|pending|complete|done|through|mined)\b",
            r"\bstatus of (?:my |the |that )?(?:transaction|transfer|payment)\b",
        ),
    ),
    (
        IntentName.TRANSFER,
        (
            r"\b(?:send|give|pay|transfer|tip|wire|move|forward)\b.*\b\d+(?:\.\d+)?\b",
            r"\b(?:send|give|pay|transfer|tip|wire)\b.* (?:to|each)\b.*\b(?:0g|usdc|usdt|weth|dai)\b",
        ),
    ),
    (
        IntentName.GAS_PRICE,
        (r"\bgas (?:price|fee|fees|cost|costs)\b", r"\bprice of gas\b", r"\bhow (?:much|expensive) is gas\b"),
    ),
    (
        IntentName.CHAIN_INFO,
        (
            r"\b(?:which|what) (?:chain|network)\b",
            r"\bchain id\b",
            r"\b(?:chain|network) (?:info|information|details|status)\b",
            r"\bam i (?:connected|on)\b",
            r"\b(?:are|is) (?:you|we|it|this) (?:connected|on|running on|using) (?:the |a )?(?:0g |main |test |dev )?(?:chain|blockchain|network|mainnet|testnet|devnet)\b",
            r"\b(?:mainnet|testnet|devnet) or (?:mainnet|testnet|devnet)\b",
        ),
    ),
    (
        IntentName.BLOCK,
        (
            r"\b(?:latest|last|current|newest|most recent|recent|head|top) block\b",
            r"\bblock (?:number|height|count)\b",
            r"\bblock \d+\b",
            r"\bhow many blocks\b",
            r"\bwhat block\b",
            r"\bchain height\b",
        ),
    ),
    (
        IntentName.BALANCE,
        (
            r"\bbalances?\b",
            r"\bhow much (?:0g|money|funds|tokens?|usdc|usdt|weth|dai|do i have|is in|does|has)\b",
            r"\bhow (?:rich|poor) am i\b",
            r"\bwhat do i (?:have|own|hold)\b",
            r"\bcheck (?:my|the) (?:wallet|account)\b",
        ),
    ),
    (
        IntentName.HELP,
        (
            r"\bhelp\b",
            r"\bwhat can you do\b",
            r"\bwhat do you do\b",
            r"\bhow do i use (?:you|this|zgvoice)\b",
        ),
    ),
)

COMPILED = tuple((name, tuple(re.compile(p) for p in patterns)) for name, patterns in RULES)


def match_rules(spoken: str) -> IntentName | None:
    """The first intent whose rule matches the speech form, or None."""
    for name, patterns in COMPILED:
        if any(p.search(spoken) for p in patterns):
            return name
    return None
