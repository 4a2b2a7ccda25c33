"""Evaluation: per-image metrics (``metrics``), ImageNet features (``features``), evaluation runs
over folders (``evaluate``), decode tuning (``tune``) and the HTML report (``report``)."""
