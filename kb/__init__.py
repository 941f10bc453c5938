"""kb: a bilingual (Danish/Norwegian) knowledge base on co-creation with cited semantic search.

    from kb import KnowledgeBase
    result = KnowledgeBase.open(".").search("how do we build trust with skeptical citizens", k=5)
"""

__all__ = ["KnowledgeBase"]


def __getattr__(name: str):
    # Keep `import kb` cheap: numpy and friends load only when the library is used.
    if name == "KnowledgeBase":
        from kb.knowledge_base import KnowledgeBase

        return KnowledgeBase
    raise AttributeError(name)
